# 6 s segments with 150 label frames, both tilings of every recording: contiguous (segment/, for dev and
# test: predictions re-assemble into full traces) and overlapping (segment/train/, for training). Neither
# depends on the split, so folds, redraws and a new split reuse them.


rule segment:
    input:
        audio=f"{RES}/preprocess/{{recording}}.npy",
        labels=f"{RES}/ingest/labels.csv",
    output:
        contiguous=f"{RES}/segment/{{recording}}.npz",
        overlapping=f"{RES}/segment/train/{{recording}}.npz",
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
