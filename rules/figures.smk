# Every figure of both papers, each by its own rule from cached results only
# (`make figures` rebuilds them and nothing else). PNG and PDF side by side;
# the PNGs feed the HTML report (`snakemake --report results/report.html`).
# With folds or redraws, the figures show the first fold or draw (draw_res()),
# the bars the tables across them.

FIG = "results/{corpus}/figures"


rule figure_traces:
    input:
        trace_inputs,
    output:
        recording=report(
            f"{FIG}/traces_recording.png",
            caption="../report/traces_recording.rst",
            category="Yang & Hirschberg 2018",
            subcategory="Fig. 2: traces",
        ),
        recording_pdf=f"{FIG}/traces_recording.pdf",
        segment=report(
            f"{FIG}/traces_segment.png",
            caption="../report/traces_segment.rst",
            category="Yang & Hirschberg 2018",
            subcategory="Fig. 3: traces",
        ),
        segment_pdf=f"{FIG}/traces_segment.pdf",
    log:
        "logs/figure_traces/{corpus}.log",
    benchmark:
        "benchmarks/{corpus}/figure_traces.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=lambda w, input, attempt: job_resources.for_figure(input, attempt)["mem_mb"],
        runtime=lambda w, input, attempt: job_resources.for_figure(input, attempt)["runtime"],
    params:
        labels=lambda w, input: [Path(p).parts[-5] for p in input],
    script:
        "../scripts/figure_traces.py"


rule figure_cells:
    input:
        model=lambda w: f"{system_dir('train', network_run('e2e', 'arousal'))}/model.pt",
        segments=test_segments,
    output:
        figure=report(
            f"{FIG}/cells_e2e.png",
            caption="../report/cells.rst",
            category="Trigeorgis et al. 2016",
            subcategory="Fig. 2: recurrent cells",
        ),
        pdf=f"{FIG}/cells_e2e.pdf",
        csv=f"{FIG}/cells_e2e.csv",
    log:
        "logs/figure_cells/{corpus}.log",
    benchmark:
        "benchmarks/{corpus}/figure_cells.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=lambda w, input, attempt: job_resources.for_figure(input, attempt)["mem_mb"],
        runtime=lambda w, input, attempt: job_resources.for_figure(input, attempt)["runtime"],
    params:
        min_frames=config["figures"]["min_cell_frames"],
    script:
        "../scripts/figure_cells.py"


rule figure_lime:
    input:
        model=lambda w: f"{system_dir('train', network_run('spec', 'valence'))}/model.pt",
        segments=test_segments,
    output:
        figure=report(
            f"{FIG}/lime_spec.png",
            caption="../report/lime.rst",
            category="Yang & Hirschberg 2018",
            subcategory="Fig. 3: LIME",
        ),
        pdf=f"{FIG}/lime_spec.pdf",
        csv=f"{FIG}/lime_spec.csv",
    log:
        "logs/figure_lime/{corpus}.log",
    benchmark:
        "benchmarks/{corpus}/figure_lime.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=lambda w, input, attempt: job_resources.for_figure(input, attempt)["mem_mb"],
        runtime=lambda w, input, attempt: job_resources.for_figure(input, attempt)["runtime"],
    params:
        seed=config["seeds"][0],
        samples=config["figures"]["lime_samples"],
    script:
        "../scripts/figure_lime.py"


rule figure_curves:
    input:
        f"{draw_res()}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/history.csv",
    output:
        figure=report(
            f"{FIG}/curves/{{model}}/{{objective}}/{{target}}/seed{{seed}}.png",
            caption="../report/curves.rst",
            category="Learning curves",
            subcategory="{model}",
        ),
        pdf=f"{FIG}/curves/{{model}}/{{objective}}/{{target}}/seed{{seed}}.pdf",
    log:
        "logs/figure_curves/{corpus}/{model}/{objective}/{target}/seed{seed}.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/figure_curves.py"


rule figure_bars:
    input:
        metrics="results/{corpus}/tables/all_metrics.csv",
        agreement=f"{draw_res()}/tables/raters_agreement.csv",
    output:
        trigeorgis=report(
            f"{FIG}/trigeorgis2016_bars.png",
            caption="../report/bars.rst",
            category="Trigeorgis et al. 2016",
            subcategory="Table 1",
        ),
        trigeorgis_pdf=f"{FIG}/trigeorgis2016_bars.pdf",
        yang=report(
            f"{FIG}/yang2018_bars.png",
            caption="../report/bars.rst",
            category="Yang & Hirschberg 2018",
            subcategory="Table 1",
        ),
        yang_pdf=f"{FIG}/yang2018_bars.pdf",
    log:
        "logs/figure_bars/{corpus}.log",
    conda:
        "../envs/report.yaml"
    params:
        published="SEMAINE" if config["corpus"]["adapter"] == "semaine" else "RECOLA",
        models=config["models"],
    script:
        "../scripts/figure_bars.py"


rule figures:
    input:
        figure_outputs(),
