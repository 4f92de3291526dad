# Corpus ingestion through the adapter named in config: manifest, gold standard and,
# where the corpus has them, the individual raters' traces (else raters.csv is empty).


def ingest_inputs(wildcards):
    """The generated corpus must exist before it is read; real corpora are read in place.
    A plug-in adapter's file is an input: editing it ingests again."""
    out = [config["corpus"]["module"]] if config["corpus"].get("module") else []
    if config["corpus"]["adapter"] == "synthetic":
        out.append(f"{config['corpus']['root']}/metadata.csv")
    return out


checkpoint ingest:
    input:
        ingest_inputs,
    output:
        manifest=f"{RES}/ingest/manifest.csv",
        labels=f"{RES}/ingest/labels.csv",
        raters=f"{RES}/ingest/raters.csv",
    log:
        f"logs/{CORPUS}/ingest.log",
    conda:
        "../envs/audio.yaml"
    params:
        adapter=config["corpus"]["adapter"],
        root=corpus_root(),
        options=config["corpus"].get("options", {}),
        module=config["corpus"].get("module"),
        dimensions=DIMENSIONS,
        step=config["labels"]["step"],
        max_mismatch=config["labels"]["max_length_mismatch"],
    script:
        "../scripts/ingest.py"
