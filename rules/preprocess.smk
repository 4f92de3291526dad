# Resampling to 16 kHz, mono, z-normalised per recording; cached per recording.


rule preprocess:
    input:
        manifest=f"{RES}/ingest/manifest.csv",
    output:
        f"{RES}/preprocess/{{recording}}.npy",
    params:
        sample_rate=config["audio"]["sample_rate"],
    log:
        "logs/preprocess/{recording}.log",
    benchmark:
        f"benchmarks/{CORPUS}/preprocess/{{recording}}.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/preprocess.py"
