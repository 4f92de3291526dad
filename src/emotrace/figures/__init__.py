"""Figures of both papers regenerated from cached results, written as PNG and PDF.

Modules: `traces` (Yang Figs. 2-3 top: gold and predicted traces), `cells` (Trigeorgis
Fig. 2: LSTM cells vs prosodic features), `lime_spec` (Yang Fig. 3 bottom: LIME on the
spectrogram branch), `curves` (learning curves), `bars` (both Table 1s as bar charts).
Every figure is drawn on a `matplotlib.figure.Figure` (Agg canvas, no pyplot state) and
saved through `atomic_write`, so a killed job never leaves half a figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from emotrace.errors import InputError
from emotrace.io import atomic_write

DPI = 100
FORMATS = ("png", "pdf")

Output = str | Path | Sequence[str | Path]
Rule = str | Mapping[str, str] | None


def output_paths(output: Output) -> list[Path]:
    """A stem (-> stem.png, stem.pdf) or explicit paths, each ending in .png or .pdf."""
    if isinstance(output, (str, Path)):
        stem = Path(output)
        if stem.suffix.lstrip(".") in FORMATS:
            stem = stem.with_suffix("")
        return [stem.with_name(f"{stem.name}.{fmt}") for fmt in FORMATS]
    paths = [Path(p) for p in output]
    bad = [str(p) for p in paths if p.suffix.lstrip(".") not in FORMATS]
    if not paths or bad:
        raise InputError("figure output", f"need paths ending in {FORMATS}, got {bad or 'none'}")
    return paths


def new_figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches with constrained layout (fixed pixel size: width*DPI x height*DPI)."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save_figure(fig: Figure, output: Output) -> list[Path]:
    """Write `fig` to every output path atomically; the PDF carries no creation date, so reruns are identical."""
    paths = output_paths(output)
    for path in paths:
        fmt = path.suffix.lstrip(".")
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_write(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata)
    return paths


def add_notes(fig: Figure, notes: Sequence[str]) -> None:
    """Print what a figure lacks under it, so that the report shows why a panel is empty or thin."""
    if notes:  # a super-x-label: constrained layout makes room for it below the axes
        fig.supxlabel("\n".join(f"Note: {note}" for note in notes), x=0.01, ha="left", fontsize="small",
                      color="tab:red")


def placeholder_figure(output: Output, title: str, notes: Sequence[str]) -> list[Path]:
    """A figure that says it could not be drawn and why: the run goes on to the tables instead of stopping."""
    fig = new_figure(11, 4)
    fig.text(0.5, 0.65, title, ha="center", va="center", fontsize="large", wrap=True)
    fig.text(0.5, 0.35, "\n".join(["Not drawn, for want of data:", *notes]), ha="center", va="center",
             color="tab:red", wrap=True)
    return save_figure(fig, output)


def rule_for(rule: Rule, what: str) -> str | None:
    """The rule that makes input `what`: one name for every input, or a mapping input name -> rule."""
    if rule is None or isinstance(rule, str):
        return rule
    return rule.get(what)


def require_input(path: str | Path, rule: Rule = None, what: str = "input") -> Path:
    """The path, if it is a file; otherwise InputError naming it and, when known, the rule that makes it."""
    path = Path(path)
    if path.is_file():
        return path
    name = rule_for(rule, what)
    hint = f"run `snakemake {path}`" + (f" or the rule `{name}`" if name else "")
    raise InputError(path, f"missing {what} file; {hint}")


def longest_recording(segment_files: Sequence[str | Path], rule: Rule = None, recording: str | None = None) -> Path:
    """The segment file of `recording`, or else of the recording with the most valid frames (ties: smallest id)."""
    if not segment_files:
        raise InputError("segment files", "none given")
    candidates = []
    for path in segment_files:
        path = require_input(path, rule, "segments")
        try:
            with np.load(path, allow_pickle=False) as npz:
                n_valid, name = int(npz["mask"].sum()), str(npz["recording"])
        except (OSError, ValueError, EOFError, KeyError) as err:
            raise InputError(path, f"cannot read 'mask' and 'recording' of the segment file ({err})") from err
        candidates.append((-n_valid, name, path))
    if recording is not None:
        matches = [c for c in candidates if c[1] == recording]
        if not matches:
            raise InputError("segment files", f"none holds recording {recording!r}")
        return matches[0][2]
    return sorted(candidates)[0][2]
