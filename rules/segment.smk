# 6 s segments with 150 label frames: overlapping for training recordings,
# contiguous for dev and test so that predictions re-assemble into full traces.


rule segment:
    input:
        audio=f"{RES}/preprocess/{{recording}}.npy",
        labels=f"{RES}/ingest/labels.csv",
        split=f"{RES}/split/split.csv",
    output:
        f"{RES}/segment/{{recording}}.npz",
    log:
        f"logs/{CORPUS}/segment/{{recording}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/segment/{{recording}}.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        dimensions=DIMENSIONS,
        alignment=config["labels"]["alignment"],
        train_hop=config["segments"]["train_hop"],
    script:
        "../scripts/segment.py"
