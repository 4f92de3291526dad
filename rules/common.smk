# Helpers shared by every rule file: config access, the experiment grid,
# input functions over the ingested recordings, wildcard constraints.

import os
import re
import sys
from pathlib import Path

import pandas as pd

# The library lives in src/; jobs (local or on SLURM) inherit this path.
_SRC = str(Path(workflow.basedir) / "src")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [_SRC, os.environ.get("PYTHONPATH", "")] if p)
sys.path.insert(0, _SRC)

from emotrace import systems  # noqa: E402
from emotrace.ingest import read_manifest  # noqa: E402

CORPUS = config["corpus"]["name"]
RES = f"results/{CORPUS}"
DIMENSIONS = config["corpus"]["dimensions"]
GRID = systems.grid(config)
MODELS = list(config["models"])
SVR_MODELS = [m for m in MODELS if config["models"][m]["network"] == "svr"]
NET_MODELS = [m for m in MODELS if m not in SVR_MODELS]
FEATURE_SETS = systems.feature_sets(config)


def _alternation(names):
    """Regex matching exactly one of `names` (never empty, so a rule with none matches nothing)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


wildcard_constraints:
    corpus=re.escape(CORPUS),
    recording=r"[^/]+",
    model=_alternation(MODELS),
    objective="mse|ccc",
    target=_alternation(DIMENSIONS + ["joint"]),
    seed=r"\d+",
    featureset=_alternation(["egemaps", "compare", "compare6373"]),


def corpus_root():
    """Absolute folder of the corpus on disk."""
    return str(Path(config["corpus"]["root"]).resolve())


def recordings(wildcards=None):
    """Recording ids from the ingestion checkpoint (the DAG grows once they are known)."""
    manifest = checkpoints.ingest.get(corpus=CORPUS).output.manifest
    return read_manifest(manifest)["recording"].tolist()


def per_recording(pattern):
    """Input function: `pattern` expanded over every ingested recording."""

    def inputs(wildcards):
        return expand(pattern, recording=recordings(), allow_missing=True)

    return inputs


def system_dir(stage, system):
    return f"{RES}/{stage}/{system.path}"


def all_outputs():
    """What `rule all` asks for: every stage's final files for the configured grid."""
    out = [f"{RES}/split/split.csv"]
    out += [f"{system_dir('evaluate', s)}/metrics.csv" for s in GRID]
    out.append(f"{RES}/tables/all_metrics.csv")
    return out
