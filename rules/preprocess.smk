# Resampling to 16 kHz, mono, z-normalised per recording; cached per recording.


rule preprocess:
    input:
        manifest=f"{RES}/ingest/manifest.csv",
    output:
        f"{RES}/preprocess/{{recording}}.npy",
    log:
        f"logs/{CORPUS}/preprocess/{{recording}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/preprocess/{{recording}}.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        sample_rate=config["audio"]["sample_rate"],
    script:
        "../scripts/preprocess.py"
