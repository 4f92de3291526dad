# emotrace: time-continuous speech emotion recognition, from raw audio to the
# papers' tables, figures and report. This file is the table of contents.

import os

from snakemake.utils import min_version, validate

min_version("9.0")


report: "report/workflow.rst"


# config.yaml unless the user names experiment files with --configfile: those merge in
# order (later files override earlier ones key by key) but never with config.yaml, so a
# smaller experiment's `models` do not inherit the default grid's. `--config key=value`
# overrides apply on top of either.
if not workflow.config_settings.configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"


wildcard_constraints:
    corpus=re.escape(CORPUS),
    recording=r"[^/]+",
    model=alternation(MODELS),
    objective="mse|ccc",
    target=alternation(DIMENSIONS + ["joint"]),
    seed=r"\d+",
    draw=r"\d+",
    featureset=alternation(["egemaps", "compare", "compare6373"]),


include: "rules/corpus.smk"
include: "rules/ingest.smk"
include: "rules/split.smk"
include: "rules/preprocess.smk"
include: "rules/segment.smk"
include: "rules/features.smk"
include: "rules/train.smk"
include: "rules/postprocess.smk"
include: "rules/evaluate.smk"
include: "rules/across.smk"
include: "rules/figures.smk"
include: "rules/runcost.smk"


# Seconds-long bookkeeping and aggregation steps: with a cluster executor they run
# in the submitting Snakemake process rather than each waiting in the queue
# (rules/corpus.smk adds the synthetic corpus's two).
localrules:
    all,
    ingest,
    split,
    feature_stats,
    postprocess,
    evaluate,
    tables,
    beyond_table,
    figure_curves,
    figure_bars,
    figures,


rule all:
    default_target: True
    input:
        all_outputs(),
        run_cost_outputs(),
