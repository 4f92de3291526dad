# openSMILE features per recording (one job each, cached), then training-set
# normalisation statistics per feature set.


ruleorder: feature_stats > extract_features


rule extract_features:
    input:
        audio=f"{RES}/preprocess/{{recording}}.npy",
        labels=f"{RES}/ingest/labels.csv",
    output:
        f"{RES}/features/{{featureset}}/{{recording}}.npz",
    log:
        "logs/extract_features/{featureset}/{recording}.log",
    benchmark:
        "benchmarks/extract_features/{featureset}/{recording}.tsv"
    conda:
        "../envs/features.yaml"
    params:
        step=config["labels"]["step"],
        alignment=config["labels"]["alignment"],
        sample_rate=config["audio"]["sample_rate"],
    script:
        "../scripts/extract_features.py"


rule feature_stats:
    input:
        features=per_recording(f"{RES}/features/{{featureset}}/{{recording}}.npz"),
        split=f"{RES}/split/split.csv",
    output:
        f"{RES}/features/{{featureset}}/stats.npz",
    log:
        "logs/feature_stats/{featureset}.log",
    conda:
        "../envs/features.yaml"
    script:
        "../scripts/feature_stats.py"
