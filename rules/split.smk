# Speaker- (or conversation-) stratified train/dev/test split.


checkpoint split:
    input:
        manifest=f"{RES}/ingest/manifest.csv",
    output:
        f"{RES}/split/split.csv",
        notes=f"{RES}/split/notes.txt",
    log:
        f"logs/{CORPUS}/split.log",
    conda:
        "../envs/audio.yaml"
    params:
        split=config["split"],
        adapter=config["corpus"]["adapter"],
        root=corpus_root(),
        options=config["corpus"].get("options", {}),
        module=config["corpus"].get("module"),
    script:
        "../scripts/split.py"
