"""The run-cost page of the report: per stage, summed wall and CPU time and the largest peak memory of a job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.figures import Output, new_figure, save_figure
from emotrace.runcost import format_duration, format_memory, per_stage, totals

PANELS = (("wall_s", "wall time, summed over jobs (min)", 60.0), ("cpu_s", "CPU time (min)", 60.0),
          ("peak_rss_mb", "peak RSS of a job (GiB)", 1024.0))


def plot_run_cost(jobs: pd.DataFrame, output: Output, corpus: str = "") -> list[Path]:
    """Three horizontal bar panels (wall, CPU, peak memory) with one bar per stage; totals in the title."""
    stages = per_stage(jobs)
    if stages.empty:
        raise InputError("benchmarks", "no benchmark record to draw the run cost from")
    total = totals(stages)
    fig = new_figure(12, 1.6 + 0.32 * len(stages))
    axes = fig.subplots(1, len(PANELS), sharey=True)
    y = np.arange(len(stages))
    for ax, (column, label, unit) in zip(axes, PANELS):
        values = stages[column].to_numpy(dtype=float) / unit
        ax.barh(y, np.nan_to_num(values), color="#4c72b0")
        for yi, v in zip(y, values):
            ax.text(0 if not np.isfinite(v) else v, yi, " n/a" if not np.isfinite(v) else f" {v:.3g}",
                    va="center", fontsize=8)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.25)
    axes[0].set_yticks(y, [f"{s} ({n})" for s, n in zip(stages["stage"], stages["jobs"])], fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(f"Run cost{' of ' + corpus if corpus else ''}: {total['jobs']} benchmarked jobs, "
                 f"wall {format_duration(total['wall_s'])} summed, CPU {format_duration(total['cpu_s'])}, "
                 f"largest peak RSS of a job {format_memory(total['peak_rss_mb'])}")
    return save_figure(fig, output)
