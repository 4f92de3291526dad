# Speaker- (or conversation-) stratified train/dev/test split; with `split.folds` or `split.redraws`, one
# per fold or draw (results/<corpus>/<kind>/<draw>/split/, emotrace.folds).


checkpoint split:
    input:
        manifest=f"{RES}/ingest/manifest.csv",
    output:
        f"{DRAW_RES}/split/split.csv",
        notes=f"{DRAW_RES}/split/notes.txt",
    log:
        f"logs/{CORPUS}/{DRAW_PART}split.log",
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
