"""Benchmark (by hand, not in CI): how long `emotrace check` takes on the full 46-speaker RECOLA release.

Writes the release layout at full size (46 speakers x 300 s, 44.1 kHz stereo WAVs as sparse silent files,
7 501-row ratings per speaker and dimension: tests/fixtures/make_corpora.py `recola_full_sparse`), then runs
`python -m emotrace.cli check` on it in a fresh process, as a user would, with an experiment config and a
small override file holding `corpus.root`, and prints the wall-clock and CPU seconds and the exit status.
The goal is under 30 s.

    python bench/check_speed.py [--config configs/trigeorgis2016_recola.yaml] [--repeats 3] [--out /tmp/check]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_corpora():
    """tests/fixtures/make_corpora.py as a module (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("make_corpora", ROOT / "tests" / "fixtures" / "make_corpora.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "trigeorgis2016_recola.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="folder for the corpus (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        start = time.perf_counter()
        root = make_corpora().write_recola_full_sparse(out / "RECOLA")
        print(f"corpus written in {time.perf_counter() - start:.1f} s: {root}")
        mine = out / "my_recola.yaml"
        mine.write_text(f"corpus:\n  root: {root}\n")
        for k in range(args.repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "emotrace.cli", "check", "--configfile", str(args.config),
                                   str(mine)], cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"run {k + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU, exit {proc.returncode}")
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
