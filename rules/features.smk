# openSMILE features per recording (one job each, cached, shared by every fold or draw), then
# training-set normalisation statistics per feature set (per fold or draw).


ruleorder: feature_stats > extract_features


rule extract_features:
    input:
        audio=f"{RES}/preprocess/{{recording}}.npy",
        labels=f"{RES}/ingest/labels.csv",
    output:
        f"{RES}/features/{{featureset}}/{{recording}}.npz",
    log:
        f"logs/{CORPUS}/extract_features/{{featureset}}/{{recording}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/extract_features/{{featureset}}/{{recording}}.tsv"
    priority: priorities.FEATURES
    conda:
        "../envs/features.yaml"
    resources:
        mem_mb=lambda w, input, attempt: job_resources.for_features(w, input, attempt)["mem_mb"],
        runtime=lambda w, input, attempt: job_resources.for_features(w, input, attempt)["runtime"],
    params:
        step=config["labels"]["step"],
        alignment=config["labels"]["alignment"],
        sample_rate=config["audio"]["sample_rate"],
    script:
        "../scripts/extract_features.py"


rule feature_stats:
    input:
        features=per_recording(f"{RES}/features/{{featureset}}/{{recording}}.npz"),
        split=f"{DRAW_RES}/split/split.csv",
    output:
        f"{DRAW_RES}/features/{{featureset}}/stats.npz",
    log:
        f"logs/{CORPUS}/feature_stats/{DRAW_PART}{{featureset}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/feature_stats/{DRAW_PART}{{featureset}}.tsv"
    priority: priorities.FEATURES
    conda:
        "../envs/features.yaml"
    script:
        "../scripts/feature_stats.py"


# Hidden states of a frozen self-supervised model (config `ssl`, emotrace.ssl) on the
# 40 ms label grid, float16, per recording; only built when an ssl_blstm model is in the grid.
rule extract_ssl:
    input:
        audio=f"{RES}/preprocess/{{recording}}.npy",
        labels=f"{RES}/ingest/labels.csv",
    output:
        f"{RES}/features/ssl/{{recording}}.npz",
    log:
        f"logs/{CORPUS}/extract_ssl/{{recording}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/extract_ssl/{{recording}}.tsv"
    priority: priorities.FEATURES
    conda:
        "../envs/torch.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        ssl=config["ssl"],
        alignment=config["labels"]["alignment"],
    script:
        "../scripts/extract_ssl.py"
