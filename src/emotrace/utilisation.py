"""How busy a run kept its cores, and the chain of jobs that set its length, from the jobs' benchmark files.

A benchmark file is written when its job ends, so its modification time is the job's end and the end minus
its wall seconds its start. Runs on the same folder leave older files behind: the run is the last stretch of
jobs with no pause longer than MAX_PAUSE between one job's start and the latest end before it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

MAX_PAUSE = 600.0
"""Seconds without a benchmarked job running after which earlier jobs count as an earlier run."""


def job_times(paths: Iterable[str | Path], jobs: pd.DataFrame) -> pd.DataFrame:
    """`jobs` (runcost.collect of the same paths, in order) with `start` and `end` in seconds since the epoch."""
    ends = [os.path.getmtime(p) for p in paths]
    out = jobs.copy()
    out["end"] = ends
    out["start"] = out["end"] - out["wall_s"]
    return out


def last_run(timed: pd.DataFrame, max_pause: float = MAX_PAUSE) -> pd.DataFrame:
    """The jobs of the latest run: walking back from the last job, stop at the first pause over `max_pause`."""
    if timed.empty:
        return timed
    ordered = timed.sort_values("start").reset_index(drop=True)
    latest_end = ordered["end"].cummax().shift(1)
    pauses = ordered.index[(ordered["start"] - latest_end) > max_pause]
    first = int(pauses[-1]) if len(pauses) else 0
    return ordered.iloc[first:].reset_index(drop=True)


@dataclass(frozen=True)
class Utilisation:
    """Cores busy over a run: job CPU seconds over cores x the run's span; the chain of jobs that ended it."""

    cores: int
    span_s: float
    cpu_s: float
    idle_tail_s: float  # seconds at the end of the run with fewer jobs running than cores
    chain: tuple[tuple[str, float], ...]  # (stage/job, wall seconds) from the first to the last

    @property
    def busy(self) -> float:
        return self.cpu_s / (self.cores * self.span_s) if self.span_s > 0 else float("nan")


def critical_chain(run: pd.DataFrame, slack: float = 30.0) -> list[int]:
    """Row indices of the chain that ended the run: from the last job to end, each step goes to the job that
    ended last before (within `slack` s of) the current one's start, which it most plausibly waited for."""
    if run.empty:
        return []
    current = int(run["end"].idxmax())
    chain = [current]
    while True:
        start = run.at[current, "start"]
        before = run[(run["end"] <= start + slack) & (run.index != current) & (run["start"] < start)]
        if before.empty:
            return chain[::-1]
        current = int(before["end"].idxmax())
        chain.append(current)


def idle_tail(run: pd.DataFrame, cores: int) -> float:
    """Seconds before the run's end during which fewer jobs than `cores` were running."""
    if run.empty:
        return 0.0
    end = run["end"].max()
    events = sorted(set(run["start"]).union(run["end"]), reverse=True)
    for t in events:  # walk back from the end to the last moment every core had a job
        running = ((run["start"] <= t - 1e-6) & (run["end"] > t - 1e-6)).sum()
        if running >= cores:
            return float(end - t)
    return float(end - run["start"].min())


def utilisation(run: pd.DataFrame, cores: int) -> Utilisation:
    """How busy `cores` were over the jobs of one run (`last_run`)."""
    span = float(run["end"].max() - run["start"].min()) if len(run) else 0.0
    chain = tuple((f"{r.stage} {r.job}".strip(), float(r.wall_s)) for r in run.loc[critical_chain(run)].itertuples())
    return Utilisation(cores=cores, span_s=span, cpu_s=float(run["cpu_s"].sum()), idle_tail_s=idle_tail(run, cores),
                       chain=chain)


def describe(u: Utilisation) -> list[str]:
    """Lines for the run-cost page and `emotrace show`."""
    from emotrace.runcost import format_duration

    runs: list[list] = []  # consecutive jobs of one stage shown once: "preprocess x 20 (41.0 s)"
    for name, wall in u.chain:
        stage = name.split()[0]
        if runs and runs[-1][0] == stage:
            runs[-1][1] += 1
            runs[-1][2] += wall
        else:
            runs.append([stage, 1, wall, name])
    chain = " -> ".join(f"{name if n == 1 else f'{stage} x {n}'} ({format_duration(wall)})"
                        for stage, n, wall, name in runs)
    return [
        f"cores busy: {u.busy:.0%} (job CPU {format_duration(u.cpu_s)} over {u.cores} cores x "
        f"{format_duration(u.span_s)} from the first job's start to the last job's end)",
        f"idle tail: {format_duration(u.idle_tail_s)} at the end with fewer jobs running than cores",
        f"critical chain (each job the last to end before the next started): {chain}",
    ]
