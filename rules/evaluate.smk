# Test evaluation (CCC on recordings concatenated and per recording, Pearson,
# RMSE; raw and post-processed), the raters' agreement, both papers' Table 1 with
# bootstrap intervals, and the papers' claims tested (findings).


rule evaluate:
    input:
        raw=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
        postprocessed=f"{DRAW_RES}/postprocess/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
    output:
        f"{DRAW_RES}/evaluate/{{model}}/{{objective}}/{{target}}/seed{{seed}}/metrics.csv",
    log:
        f"logs/{CORPUS}/evaluate/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/evaluate.py"


rule agreement:
    input:
        raters=f"{RES}/ingest/raters.csv",
        split=f"{DRAW_RES}/split/split.csv",
    output:
        f"{DRAW_RES}/tables/raters_agreement.csv",
    log:
        f"logs/{CORPUS}/{DRAW_PART}agreement.log",
    conda:
        "../envs/torch.yaml"
    params:
        uncertainty=config["uncertainty"],
        step=config["labels"]["step"],
    script:
        "../scripts/agreement.py"


rule tables:
    input:
        metrics=[f"{DRAW_RES}/evaluate/{s.path}/metrics.csv" for s in GRID],
        split_notes=f"{DRAW_RES}/split/notes.txt",
        raw=[f"{DRAW_RES}/train/{s.path}/predictions.csv" for s in GRID],
        postprocessed=[f"{DRAW_RES}/postprocess/{s.path}/predictions.csv" for s in GRID],
        settings=[f"{DRAW_RES}/postprocess/{s.path}/settings.json" for s in GRID],
        history=[f"{DRAW_RES}/train/{s.path}/history.csv" for s in GRID if s.model in NET_MODELS],
        agreement=f"{DRAW_RES}/tables/raters_agreement.csv",
    output:
        multiext(f"{DRAW_RES}/tables/trigeorgis2016_table1", ".csv", ".md", ".tex"),
        multiext(f"{DRAW_RES}/tables/yang2018_table1", ".csv", ".md", ".tex"),
        trigeorgis=report(
            f"{DRAW_RES}/tables/trigeorgis2016_table1.html",
            caption="../report/tables.rst",
            category="Tables and findings",
            subcategory="Table 1",
        ),
        yang=report(
            f"{DRAW_RES}/tables/yang2018_table1.html",
            caption="../report/tables.rst",
            category="Tables and findings",
            subcategory="Table 1",
        ),
        metrics=f"{DRAW_RES}/tables/all_metrics.csv",
        metrics_html=report(
            f"{DRAW_RES}/tables/all_metrics.html",
            caption="../report/all_metrics.rst",
            category="Tables and findings",
            subcategory="All metrics",
        ),
        findings=f"{DRAW_RES}/tables/findings.csv",
        findings_md=f"{DRAW_RES}/tables/findings.md",
        findings_html=report(
            f"{DRAW_RES}/tables/findings.html",
            caption="../report/findings.rst",
            category="Tables and findings",
            subcategory="Findings",
        ),
    log:
        f"logs/{CORPUS}/{DRAW_PART}tables.log",
    conda:
        "../envs/torch.yaml"
    params:
        outdir=lambda w, output: str(Path(output.metrics).parent),
        corpus=CORPUS,
        adapter=config["corpus"]["adapter"],
        uncertainty=config["uncertainty"],
        collapse=config["collapse"],
        step=config["labels"]["step"],
        models=config["models"],
        claims=config["findings"],
    script:
        "../scripts/tables.py"


# Beyond both papers (only when some configured system fills no paper row: SSL models,
# plug-in networks, ...): those systems beside both papers' best systems, from the same metrics.
rule beyond_table:
    input:
        f"{RES}/tables/all_metrics.csv",
    output:
        multiext(f"{RES}/tables/beyond_table", ".csv", ".md", ".tex"),
        html=report(
            f"{RES}/tables/beyond_table.html",
            caption="../report/beyond.rst",
            category="Tables and findings",
            subcategory="Beyond the papers",
        ),
    log:
        f"logs/{CORPUS}/beyond_table.log",
    conda:
        "../envs/torch.yaml"
    params:
        models=config["models"],
        bundle=config["ssl"]["bundle"],
        corpus=CORPUS,
    script:
        "../scripts/beyond_table.py"
