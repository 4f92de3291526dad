"""Label traces at their own rate onto the 40 ms grid, saying what was done.

A trace's rate is its median time step. On the grid already (the step and every
time stamp within a millisecond of the grid's) its values are kept; a sparser
trace (e.g. 10 Hz) is interpolated linearly; a denser one (above 25 Hz) is
averaged over each frame's 40 ms (the samples in `[t - step/2, t + step/2)`),
which keeps what linear interpolation would drop between the frames (the SEMAINE
adapter, whose FeelTrace clocks are not regular, logs its traces' rates but keeps
interpolating them). Time stamps
must lie within `tolerance` of whole multiples of the median step from each other
(a missing sample is a gap, bounded elsewhere by `max_gap`); a trace that does not
has no rate to map and is refused, naming the file and line, as are times that do
not increase. `describe` turns the per-trace results into one log line per dimension;
`RateLog` collects them while an adapter reads its files.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotrace.corpora.labels import resample_trace
from emotrace.errors import InputError

DEFAULT_RATE_TOLERANCE = 0.25  # fraction of the median step a time step may be off a whole number of steps
STAMP_RESOLUTION = 0.01  # s: time stamps written with two decimals are off by up to this much
ON_GRID = 0.001  # s: a time stamp this close to a grid time is on the grid


@dataclass(frozen=True)
class GridMapping:
    """How one trace was put on the grid: its median step (s) and `kept`, `interpolated` or `averaged`."""

    step: float
    action: str


def median_step(times: np.ndarray) -> float:
    """A trace's rate as its median time step (s)."""
    return float(np.median(np.diff(np.asarray(times, dtype=np.float64))))


def trace_step(times: np.ndarray, path: str | Path, first_line: int = 2,
               tolerance: float = DEFAULT_RATE_TOLERANCE) -> float:
    """The median time step of a trace; InputError (file and line) for decreasing or irregular times."""
    times = np.asarray(times, dtype=np.float64)
    if times.size < 2:
        raise InputError(path, f"label trace has {times.size} time stamp(s); a rate needs at least 2")
    steps = np.diff(times)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        i = bad[0]
        raise InputError(f"{path}:{first_line + i + 1}",
                         f"time {times[i + 1]:g} does not increase (previous {times[i]:g})")
    step = median_step(times)
    multiples = np.round(steps / step)
    allowed = max(tolerance * step, STAMP_RESOLUTION)
    bad = np.flatnonzero((multiples < 1) | (np.abs(steps - multiples * step) > allowed))
    if bad.size:
        i = bad[0]
        raise InputError(f"{path}:{first_line + i + 1}",
                         f"irregular time stamps: step {steps[i]:.4g} s ({times[i]:g} -> {times[i + 1]:g}) is not "
                         f"a whole number of the trace's median step {step:.4g} s (tolerance {allowed:.3g} s); "
                         "the label rate cannot be mapped onto the grid")
    return step


def to_grid(times: np.ndarray, values: np.ndarray, grid: np.ndarray, grid_step: float, path: str | Path,
            first_line: int = 2, tolerance: float = DEFAULT_RATE_TOLERANCE) -> tuple[np.ndarray, GridMapping]:
    """Values of a (time, value) trace at the `grid` times (evenly spaced by `grid_step`), and how they were
    obtained (see the module)."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    step = trace_step(times, path, first_line, tolerance)
    linear = resample_trace(times, values, grid)  # edge values held outside the trace
    position = (times - grid[0]) / grid_step  # in frames of the grid
    if abs(step - grid_step) <= ON_GRID:
        on_grid = np.abs(position - np.round(position)) * grid_step <= ON_GRID
        return linear, GridMapping(step, "kept" if on_grid.all() else "interpolated")
    if step > grid_step:
        return linear, GridMapping(step, "interpolated")
    frame = np.floor(position + 0.5 + 1e-9).astype(np.int64)  # the frame whose 40 ms holds each sample
    inside = (frame >= 0) & (frame < grid.size)
    sums = np.bincount(frame[inside], weights=values[inside], minlength=grid.size)
    counts = np.bincount(frame[inside], minlength=grid.size)
    averaged = np.where(counts > 0, sums / np.maximum(counts, 1), linear)  # frames without a sample: interpolated
    return averaged, GridMapping(step, "averaged")


ACTIONS = {
    "kept": "kept (on the {grid} ms grid already)",
    "interpolated": "interpolated linearly onto the {grid} ms grid",
    "averaged": "averaged over each {grid} ms frame (denser than the grid)",
}


def describe(what: str, mappings: list[GridMapping], grid_step: float) -> str:
    """One line: the rates found among `what`'s traces and what was done, e.g.
    `arousal: 7 trace(s) at 10 Hz (every 100 ms): interpolated linearly onto the 40 ms grid`."""
    grid_ms = f"{grid_step * 1000:g}"
    groups = Counter((round(1 / m.step, 1), m.action) for m in mappings)
    parts = [f"{n} trace(s) at {rate:g} Hz (every {1000 / rate:.3g} ms): {ACTIONS[action].format(grid=grid_ms)}"
             for (rate, action), n in sorted(groups.items())]
    return f"{what}: " + "; ".join(parts)


class RateLog:
    """Each trace's GridMapping collected under what it is (a dimension, a dimension's raters), logged one line each."""

    def __init__(self, grid_step: float):
        self.grid_step = grid_step
        self.mappings: dict[str, list[GridMapping]] = {}

    def add(self, what: str, mapping: GridMapping) -> None:
        self.mappings.setdefault(what, []).append(mapping)

    def flush(self, logger: logging.Logger) -> None:
        """Log what was collected (`label rate, arousal: ...`) and start afresh."""
        for what, mappings in self.mappings.items():
            logger.info("label rate, %s", describe(what, mappings, self.grid_step))
        self.mappings = {}
