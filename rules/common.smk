# Helpers shared by the .smk files: config access, the experiment grid,
# input functions over the ingested recordings, wildcard constraints.

import os
import re
import sys
from pathlib import Path

import pandas as pd

# The library (src/emotrace) is installed in the environment (`make setup`, or the
# conda envs); the path below only lets the workflow itself import it uninstalled.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
# Where the conda envs' post-deploy script (envs/install_emotrace.sh) installs the package from.
os.environ.update(EMOTRACE_ROOT=str(Path(workflow.basedir).resolve()))

from emotrace import systems  # noqa: E402
from emotrace.config_checks import check_config  # noqa: E402
from emotrace.findings import check_claims  # noqa: E402
from emotrace.identity import extra_systems  # noqa: E402
from emotrace import resources as job_resources  # noqa: E402
from emotrace import priorities  # noqa: E402
from emotrace.ingest import read_manifest  # noqa: E402
from emotrace.folds import draw_plan  # noqa: E402

# Errors the schema cannot see (missing corpus folder, unknown adapter options or network
# arguments), reported now rather than inside a job after others ran.
check_config(config)
check_claims(config["findings"], config["models"], config["corpus"]["dimensions"])

CORPUS = config["corpus"]["name"]
RES = f"results/{CORPUS}"
DIMENSIONS = config["corpus"]["dimensions"]
GRID = systems.grid(config)
MODELS = list(config["models"])
SVR_MODELS = [m for m in MODELS if config["models"][m]["network"] == "svr"]
NET_MODELS = [m for m in MODELS if m not in SVR_MODELS]
FEATURE_SETS = systems.feature_sets(config)

# Speaker folds or training redraws (config `split.folds` / `split.redraws`, emotrace.folds): everything from
# the split on (split, feature statistics, training, post-processing, evaluation, per-draw tables) is written
# once per draw under results/<corpus>/<kind>/<draw>/, with a `draw` wildcard; ingestion, preprocessing,
# segmentation and features stay shared under results/<corpus>/. Without either key there is one draw and
# DRAW_RES is RES, so a single-split run's paths are what they always were.
PLAN = draw_plan(config["split"])
DRAWS = list(PLAN.names) if PLAN else []
DRAW_RES = f"{RES}/{PLAN.kind}/{{draw}}" if PLAN else RES
# Inserted after the rule name in log and benchmark paths (benchmarks/<corpus>/<rule>/<kind>/<draw>/...).
DRAW_PART = f"{PLAN.kind}/{{draw}}/" if PLAN else ""


def alternation(names):
    """Regex matching exactly one of `names` (never empty: with no names it matches nothing)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


def corpus_root():
    """Absolute folder of the corpus on disk."""
    return str(Path(config["corpus"]["root"]).resolve())


def recordings(wildcards=None):
    """Recording ids from the ingestion checkpoint (the DAG grows once they are known)."""
    manifest = checkpoints.ingest.get(corpus=CORPUS).output.manifest
    return read_manifest(manifest)["recording"].tolist()


def run_cores(wildcards):
    """The cores this run may use (--cores), for the run-cost page's cores-busy figure; 1 where no
    --cores is given (a --report or --lint call plans no job)."""
    return workflow._cores or 1


def training_priority(wildcards):
    """A training job's place in the queue: longest expected first (emotrace.priorities). The corpus's
    audio sets the scale; before ingestion (a dry run) an hour stands in, which keeps the order."""
    manifest = Path(f"{RES}/ingest/manifest.csv")
    seconds = float(read_manifest(manifest)["duration"].sum()) if manifest.is_file() else 3600.0
    return priorities.for_training(systems.model_settings(config, wildcards.model), seconds)


def svr_priority(wildcards):
    return priorities.for_svr(systems.model_settings(config, wildcards.model))


def draw_name(draw=None):
    """A draw's name ("1", ...) from a name or from wildcards holding one; the first draw without either."""
    name = draw if isinstance(draw, str) or draw is None else draw.draw
    return name or DRAWS[0]


def draw_res(draw=None):
    """The results folder of one draw; RES without folds or redraws. Input functions need it: unlike input
    patterns, the paths they return are not filled with the job's wildcards."""
    return f"{RES}/{PLAN.kind}/{draw_name(draw)}" if PLAN else RES


def draw_part(draw):
    """DRAW_PART of one draw, for log and benchmark paths ("" without folds or redraws)."""
    return f"{PLAN.kind}/{draw}/" if PLAN else ""


def draw_split(draw=None):
    """The split of one draw (the first without `draw`), read once the split checkpoint has run."""
    wildcards = {"draw": draw_name(draw)} if PLAN else {}
    return pd.read_csv(checkpoints.split.get(**wildcards).output[0], dtype=str)


def training_segments(wildcards):
    """Segment files a training reads: the overlapping tiling (segment/train/) of its draw's training
    recordings, the contiguous one of its dev and test recordings."""
    split = draw_split(wildcards)
    return [
        f"{RES}/segment/train/{r}.npz" if part == "train" else f"{RES}/segment/{r}.npz"
        for r, part in zip(split["recording"], split["partition"])
    ]


def per_recording(pattern):
    """Input function: `pattern` expanded over every ingested recording."""

    def inputs(wildcards):
        return expand(pattern, recording=recordings(), allow_missing=True)

    return inputs


def system_dir(stage, system, draw=None):
    """A run's folder of one stage in one draw (the first draw without `draw`: the one figures show)."""
    return f"{draw_res(draw)}/{stage}/{system.path}"


def across_files(stage, name, systems=None):
    """One file per draw and run (every run of the grid without `systems`), in draw order."""
    return [f"{system_dir(stage, s, d)}/{name}" for d in DRAWS for s in (GRID if systems is None else systems)]


def all_outputs():
    """Targets of the default run: every stage's final files for the configured grid."""
    out = [f"{draw_res(d)}/split/split.csv" for d in DRAWS or [None]]
    out += [f"{system_dir('evaluate', s, d)}/metrics.csv" for d in DRAWS or [None] for s in GRID]
    out.append(f"{RES}/tables/all_metrics.csv")
    if PLAN:  # the tables and findings across draws
        out.append(f"{RES}/tables/across_draws.csv")
    if extra_systems(config["models"]):  # some system fills no paper row
        out.append(f"{RES}/tables/beyond_table.csv")
    return out + figure_outputs()


def feature_inputs(wildcards):
    """Features and their train-only statistics, for models that read features."""
    settings = systems.model_settings(config, wildcards.model)
    if settings.get("features") == "ssl":  # normalised inside the model: no statistics
        return {"features": expand(f"{RES}/features/ssl/{{recording}}.npz", recording=recordings())}
    if not systems.reads_features(settings):  # waveform networks, built-in or plug-in
        return {}
    fs = settings["features"]
    return {
        "features": expand(f"{RES}/features/{fs}/{{recording}}.npz", recording=recordings()),
        "stats": f"{draw_res(wildcards)}/features/{fs}/stats.npz",
    }


def plugin_inputs(wildcards):
    """A plug-in network's file (`models.<name>.module`): editing it trains the model again."""
    source = config["models"][wildcards.model].get("module")
    return {"plugin": source} if source else {}


def train_params(wildcards):
    """The model's resolved settings and the dimensions its target stands for."""
    return {
        "settings": systems.model_settings(config, wildcards.model),
        "dimensions": systems.target_dimensions(config, wildcards.target),
    }


def figure_runs():
    """Model -> the runs its figures show: the CCC objective if trained (else its first), the first seed."""
    out = {}
    for model in MODELS:
        settings = systems.model_settings(config, model)
        objectives = settings["objectives"]
        seed = settings.get("seeds", config["seeds"])[0]
        objective = "ccc" if "ccc" in objectives else objectives[0]
        out[model] = [s for s in GRID if s.model == model and s.objective == objective and s.seed == seed]
    return out


def trace_inputs(wildcards):
    """Raw dev/test predictions of every model's figure run (all its targets)."""
    return [f"{system_dir('train', s)}/predictions.csv" for runs in figure_runs().values() for s in runs]


def network_run(network, prefer_target):
    """The figure run of the first model with this network, preferring `prefer_target`; None if absent."""
    for model, runs in figure_runs().items():
        if config["models"][model]["network"] == network:
            by_target = {s.target: s for s in runs}
            return by_target.get(prefer_target) or by_target.get("joint") or runs[0]
    return None


def test_segments(wildcards):
    """Segment files of the test partition (the figures analyse unseen recordings)."""
    split = draw_split()
    recs = split.loc[split["partition"] == "test", "recording"].tolist()
    return expand(f"{RES}/segment/{{recording}}.npz", recording=recs)


def figure_outputs():
    """Every figure the config's grid allows (cells need e2e, LIME needs spec)."""
    if not config["figures"]["enabled"]:
        return []
    fig = f"{RES}/figures"
    out = [
        f"{fig}/traces_recording.png",
        f"{fig}/traces_segment.png",
        f"{fig}/trigeorgis2016_bars.png",
        f"{fig}/yang2018_bars.png",
    ]
    out += [f"{fig}/curves/{s.path}.png" for s in GRID if s.model in NET_MODELS]
    if network_run("e2e", "arousal"):
        out.append(f"{fig}/cells_e2e.png")
    if network_run("spec", "valence"):
        out.append(f"{fig}/lime_spec.png")
    return out


def benchmark_files(wildcards):
    """The benchmark file of every benchmarked job the default target needs: each is a product of its
    job, so asking for it builds nothing more than the run does (run_cost itself is not benchmarked)."""
    bench = f"benchmarks/{CORPUS}"
    recs = recordings()
    out = []
    if config["corpus"]["adapter"] == "synthetic":
        out += expand(f"{bench}/synthesize_recording/{{recording}}.tsv", recording=SYNTH_RECORDINGS)
    out += expand(f"{bench}/{{stage}}/{{recording}}.tsv", stage=["preprocess", "segment"], recording=recs)
    out += expand(f"{bench}/extract_features/{{fs}}/{{recording}}.tsv", fs=FEATURE_SETS, recording=recs)
    if systems.has_ssl(config):
        out += expand(f"{bench}/extract_ssl/{{recording}}.tsv", recording=recs)
    for part in [draw_part(d) for d in DRAWS or [None]]:  # per draw: statistics and trainings
        out += expand(f"{bench}/feature_stats/{part}{{fs}}.tsv", fs=FEATURE_SETS)
        for s in GRID:
            kind = "train_svr" if s.model in SVR_MODELS else "train_network"
            out.append(f"{bench}/{kind}/{part}{s.path}.tsv")
    if config["figures"]["enabled"]:
        out.append(f"{bench}/figure_traces.tsv")
        if network_run("e2e", "arousal"):
            out.append(f"{bench}/figure_cells.tsv")
        if network_run("spec", "valence"):
            out.append(f"{bench}/figure_lime.tsv")
    return out


def run_cost_outputs():
    """The run-cost page and table (a target of `rule all`)."""
    return [f"{RES}/runcost/run_cost.png", f"{RES}/runcost/run_cost.md"]
