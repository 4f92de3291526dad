#!/bin/sh
# Installs the emotrace package into the active environment, from the repository at
# EMOTRACE_ROOT: editable (the environment always sees the checkout's code) and without
# dependencies (the environment's .yaml pins them). Snakemake runs it as the post-deploy
# script of every environment here (envs/<name>.post-deploy.sh links to it), inside the
# environment it has just created, with EMOTRACE_ROOT set by rules/common.smk.
# By hand: conda env create -f envs/torch.yaml -n emotrace-torch && conda activate emotrace-torch
#          && EMOTRACE_ROOT=$PWD sh envs/install_emotrace.sh
# An env file cannot do this with a relative path in its pip section: conda resolves such a
# path from the env file's folder, but Snakemake first copies the file into its conda prefix
# (.snakemake/conda/<hash>.yaml), so no relative path serves both.
set -eu
root="${EMOTRACE_ROOT:?EMOTRACE_ROOT must name the emotrace repository (rules/common.smk sets it)}"
if ! grep -qs '^name = "emotrace"$' "$root/pyproject.toml"; then
    echo "install_emotrace.sh: EMOTRACE_ROOT=$root is not the emotrace repository (no pyproject.toml naming emotrace)" >&2
    exit 1
fi
python -m pip install --no-deps --editable "$root"
