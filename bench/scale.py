"""Benchmark: what each pipeline stage costs as the corpus grows, and what that predicts for RECOLA and SEMAINE.

Runs the whole workflow (snakemake, this repository's Snakefile) on generated corpora of several sizes, one
folder each under --out, with every model capped at --epochs epochs; reads the runs' benchmark files and
prints, per stage, wall time (summed over jobs), CPU time and the largest peak RSS of a job against minutes
of audio, the fitted growth (affine or power law, with its exponent) and the extrapolation to full RECOLA
(46 x 5 min) and SEMAINE (Yang & Hirschberg's 1 330 x 6 s). The table is written as Markdown for docs/scale.md.
Run on a quiet machine: timings taken while other work shares the CPU say little.

    python bench/scale.py                                     # 12, 24, 46 speakers x 60 s, every model
    python bench/scale.py --speakers 4 6 --duration 10 --models svr_egemaps --out /tmp/scale  # tiny check

Training cost is per epoch (--epochs 1): multiply by the epochs a real run trains (early stopping).
A size whose folder already holds a finished run is not run again (snakemake finds nothing to do).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from emotrace.runcost import CORPUS_MINUTES, run_stages, scale_table, scaled_config, write_markdown  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--speakers", type=int, nargs="+", default=[12, 24, 46], help="corpus sizes (speakers)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds per recording")
    p.add_argument("--epochs", type=int, default=1, help="training epochs per model")
    p.add_argument("--models", nargs="+", default=None, help="models of the base config to run (default: all)")
    p.add_argument("--base", type=Path, default=REPO / "configs" / "scale_recola.yaml", help="base config")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "scale_runs", help="one run folder per size")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    p.add_argument("--no-figures", action="store_true", help="skip the figure rules")
    p.add_argument("--markdown", type=Path, default=None, help="table file (default: OUT/scale.md)")
    return p.parse_args(argv)


def run_size(args: argparse.Namespace, base: dict, n_speakers: int) -> pd.DataFrame:
    """Run the workflow at one size (or find it done) and return its per-stage costs."""
    config = scaled_config(base, n_speakers, args.duration, args.epochs, args.models)
    if args.no_figures:
        config["figures"] = {**config.get("figures", {}), "enabled": False}
    workdir = args.out / config["corpus"]["name"]
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(config_path), "--cores", str(args.cores), "--resources", "gpu=1",
           "--rerun-incomplete"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    with open(workdir / "snakemake.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        sys.exit(f"snakemake failed at {n_speakers} speakers (exit {proc.returncode}); see {workdir / 'snakemake.log'}")
    minutes = n_speakers * args.duration / 60
    print(f"{n_speakers} speakers x {args.duration:g} s = {minutes:g} min of audio: "
          f"run took {time.perf_counter() - start:.0f} s wall (folder {workdir})", flush=True)
    return run_stages(workdir, config["corpus"]["name"], minutes)


def main(argv=None) -> int:
    args = parse_args(argv)
    if len(set(args.speakers)) < 2:
        sys.exit("give at least two corpus sizes (--speakers) to fit a growth")
    base = yaml.safe_load(args.base.read_text())
    measured = pd.concat([run_size(args, base, n) for n in sorted(set(args.speakers))], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    measured.to_csv(args.out / "measured.csv", index=False)
    table = scale_table(measured, CORPUS_MINUTES)
    title = (f"Cost per stage against corpus size ({args.duration:g} s recordings, {args.epochs} epoch(s) per "
             f"model, {args.cores} cores; base config {args.base.name})")
    markdown = args.markdown or args.out / "scale.md"
    write_markdown(table, markdown, title=title)
    print(markdown.read_text())
    print(f"table written to {markdown}; raw per-size figures in {args.out / 'measured.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
