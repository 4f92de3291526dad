# Test evaluation (CCC on recordings concatenated and per recording, Pearson,
# RMSE; raw and post-processed) and both papers' Table 1.


rule evaluate:
    input:
        raw=f"{RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
        postprocessed=f"{RES}/postprocess/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
    output:
        f"{RES}/evaluate/{{model}}/{{objective}}/{{target}}/seed{{seed}}/metrics.csv",
    log:
        "logs/evaluate/{model}/{objective}/{target}/seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/evaluate.py"


rule tables:
    input:
        [f"{system_dir('evaluate', s)}/metrics.csv" for s in GRID],
    output:
        multiext(f"{RES}/tables/trigeorgis2016_table1", ".csv", ".md", ".tex"),
        multiext(f"{RES}/tables/yang2018_table1", ".csv", ".md", ".tex"),
        metrics=f"{RES}/tables/all_metrics.csv",
    log:
        "logs/tables.log",
    conda:
        "../envs/torch.yaml"
    params:
        outdir=lambda w, output: str(Path(output.metrics).parent),
        corpus=CORPUS,
        adapter=config["corpus"]["adapter"],
    script:
        "../scripts/tables.py"
