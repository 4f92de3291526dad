"""What a run cost: Snakemake's `benchmark:` files summarised per stage, and growth fits that extrapolate the
cost to larger corpora (RECOLA, SEMAINE), so that a user can plan the next run and size its resource requests.

Benchmark files live at `benchmarks/{corpus}/{rule}/{wildcards...}.tsv` (rules/*.smk); the stage of a job is
its rule, refined by the first wildcard for the rules where it names what dominates the cost (the feature set,
the model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.tables import to_markdown

BENCHMARK_COLUMNS = ("s", "max_rss", "cpu_time")
"""Columns of Snakemake's benchmark TSV that are read: wall seconds, peak resident MiB, CPU seconds."""

GROUPED_RULES = ("extract_features", "train_network", "train_svr")
"""Rules whose first wildcard (feature set, model) is part of the stage name: their costs differ by it."""

CORPUS_MINUTES = {"RECOLA (46 x 5 min)": 46 * 5.0, "SEMAINE (Yang 2018: 1 330 x 6 s)": 1330 * 6 / 60}
"""Corpus sizes the scale table extrapolates to, in minutes of audio."""

COST_COLUMNS = ["stage", "jobs", "wall_s", "cpu_s", "peak_rss_mb"]

DRAW_KINDS = ("folds", "redraws")
"""With `split.folds` or `split.redraws` a per-draw job's wildcards start with `<kind>/<draw>/` (rules/common.smk)."""


def read_benchmark(path: str | Path) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one benchmark file (mean over its repeats; NaN where
    Snakemake collected no process data, as for jobs shorter than its sampling interval)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read benchmark file ({err})") from err
    missing = [c for c in BENCHMARK_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, f"benchmark file lacks columns {missing} (has {list(table.columns)})")
    if table.empty:
        raise InputError(path, "benchmark file has no record")
    values = table[list(BENCHMARK_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    if values["s"].isna().any():
        raise InputError(path, "wall time 's' is not a number")
    return {"wall_s": float(values["s"].mean()), "cpu_s": float(values["cpu_time"].mean()),
            "peak_rss_mb": float(values["max_rss"].max())}


def job_of(path: str | Path) -> tuple[str, str, str]:
    """(corpus, rule, job) of `.../benchmarks/{corpus}/{rule}/{job}.tsv`; job is the wildcard part of the path."""
    parts = Path(path).with_suffix("").parts
    if "benchmarks" not in parts:
        raise InputError(path, "is not under a benchmarks/ folder")
    rest = parts[len(parts) - 1 - parts[::-1].index("benchmarks") + 1:]
    if len(rest) < 2:
        raise InputError(path, "benchmark path must be benchmarks/{corpus}/{rule}[/{wildcards}].tsv")
    return rest[0], rest[1], "/".join(rest[2:])


def draw_of(job: str) -> tuple[str, str]:
    """(draw, the job's own wildcards): draw is `folds/<k>` or `redraws/<r>` for a per-draw job, "" for a shared one."""
    parts = job.split("/")
    if len(parts) > 2 and parts[0] in DRAW_KINDS:
        return "/".join(parts[:2]), "/".join(parts[2:])
    return "", job


def stage_of(rule: str, job: str) -> str:
    """The stage a job counts under: its rule, with the feature set or model for GROUPED_RULES."""
    job = draw_of(job)[1]
    if rule in GROUPED_RULES and job:
        return f"{rule}/{job.split('/')[0]}"
    return rule


def collect(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per benchmark file: corpus, rule, stage, job, draw ("" when shared by all), wall_s, cpu_s,
    peak_rss_mb."""
    rows = []
    for path in paths:
        corpus, rule, job = job_of(path)
        rows.append({"corpus": corpus, "rule": rule, "stage": stage_of(rule, job), "job": job,
                     "draw": draw_of(job)[0], **read_benchmark(path)})
    columns = ["corpus", "rule", "stage", "job", "draw", "wall_s", "cpu_s", "peak_rss_mb"]
    return pd.DataFrame(rows, columns=columns)


def per_draw(jobs: pd.DataFrame) -> list[str]:
    """With folds or redraws, one line per draw (its feature statistics and trainings) and one for the shared
    stages (ingestion to features): jobs, summed wall and CPU. Empty for a single split."""
    if "draw" not in jobs.columns or not (jobs["draw"] != "").any():
        return []
    lines = []
    for draw, rows in jobs.groupby("draw", sort=True):
        total = totals(per_stage(rows))
        lines.append(f"{draw or 'shared by every draw'}: {total['jobs']} jobs, wall {format_duration(total['wall_s'])}"
                     f" (summed), CPU {format_duration(total['cpu_s'])}")
    return ["cost per draw (the split on) and of the shared stages (ingestion to features): " + "; ".join(lines)]


def per_stage(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage: number of jobs, summed wall and CPU seconds, largest peak RSS of one job; in pipeline order.

    Summed wall time is what the stage costs run one job at a time; jobs running side by side overlap.
    """
    if jobs.empty:
        return pd.DataFrame(columns=COST_COLUMNS)
    order = {stage: i for i, stage in enumerate(dict.fromkeys(jobs["stage"]))}
    table = (jobs.groupby("stage", sort=False)
             .agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", lambda s: s.sum(min_count=1)),
                  peak_rss_mb=("peak_rss_mb", "max"))
             .reset_index())
    return table.sort_values("stage", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)[COST_COLUMNS]


def totals(stages: pd.DataFrame) -> dict:
    """The whole run: jobs, wall and CPU seconds summed over stages, the largest peak RSS of any job."""
    return {"jobs": int(stages["jobs"].sum()), "wall_s": float(stages["wall_s"].sum()),
            "cpu_s": float(stages["cpu_s"].sum(min_count=1)) if len(stages) else math.nan,
            "peak_rss_mb": float(stages["peak_rss_mb"].max()) if len(stages) else math.nan}


def format_duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "n/a"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def format_memory(mb: float) -> str:
    if not np.isfinite(mb):
        return "n/a"
    return f"{mb / 1024:.2f} GiB" if mb >= 1024 else f"{mb:.0f} MiB"


def cost_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """The run-cost table for people: per stage and a total row, durations and memory in readable units."""
    stages = per_stage(jobs)
    rows = [{"stage": r.stage, "jobs": int(r.jobs), "wall (summed)": format_duration(r.wall_s), "CPU": format_duration(r.cpu_s),
             "peak RSS of a job": format_memory(r.peak_rss_mb)} for r in stages.itertuples()]
    total = totals(stages)
    rows.append({"stage": "total", "jobs": total["jobs"], "wall (summed)": format_duration(total["wall_s"]),
                 "CPU": format_duration(total["cpu_s"]), "peak RSS of a job": format_memory(total["peak_rss_mb"])})
    table = pd.DataFrame(rows)
    table.attrs["notes"] = [
        "wall (summed): the stage's jobs' wall-clock times added up (jobs that ran side by side overlap)",
        "CPU: user + system seconds of the job's processes; n/a where Snakemake sampled none (jobs of a few seconds)",
        "from Snakemake's benchmark files (benchmarks/); rules without one (bookkeeping steps) are not counted",
    ] + per_draw(jobs)
    return table


# ---------------------------------------------------------------- growth with the corpus


@dataclass(frozen=True)
class Growth:
    """A fitted cost curve y(x) over minutes of audio x: `linear` y = a + b x, `power` y = a x^b, or `constant` y = a
    (b = 0)."""

    kind: str
    a: float
    b: float
    exponent: float  # log-log slope: 1 for proportional growth, 0 for a constant
    rel_error: float  # RMS of log(fit / measured) over the measurements

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.kind == "power":
            return self.a * x**self.b
        return self.a + self.b * x

    def describe(self) -> str:
        if self.kind == "linear":
            return f"{self.a:.3g} + {self.b:.3g}·x (x^{self.exponent:.2f})"
        return f"{self.a:.3g}·x^{self.b:.2f}"


FLAT = 0.05
"""A cost whose measurements stay within about 5 % of their geometric mean (log-space RMS) is taken as constant:
per-recording memory, for one, does not grow with the number of recordings, and noise must not extrapolate."""


def fit_growth(x: Sequence[float], y: Sequence[float]) -> Growth:
    """Fit cost `y` against corpus minutes `x`: a constant when the measurements are flat (FLAT), else an affine
    line with non-negative intercept and slope or a power law, whichever is closer in log space (costs span
    orders of magnitude).

    The exponent is the log-log slope of the measurements (power law) or of the fitted line over the
    measured range (linear); near 1 the cost grows in proportion to the corpus.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[keep], y[keep]
    if len(np.unique(x)) < 2:
        raise InputError("measurements", f"need positive costs at two or more corpus sizes to fit growth, got {len(x)}")
    lx, ly = np.log(x), np.log(y)
    spread = float(np.sqrt(np.mean((ly - ly.mean()) ** 2)))
    if spread <= FLAT:
        return Growth("constant", float(np.exp(ly.mean())), 0.0, 0.0, spread)
    slope, intercept = np.polyfit(lx, ly, 1)
    power = Growth("power", float(np.exp(intercept)), float(slope), float(slope), 0.0)
    b, a = np.polyfit(x, y, 1)
    if a < 0:  # a cost cannot be negative at zero size: proportional fit through the origin
        a, b = 0.0, float(np.sum(x * y) / np.sum(x * x))
    elif b < 0:  # nor fall with size: a constant
        a, b = float(y.mean()), 0.0
    line_exponent = float(np.polyfit(lx, np.log(a + b * x), 1)[0])
    linear = Growth("linear", float(a), float(b), line_exponent, 0.0)

    def rms(g: Growth) -> float:
        return float(np.sqrt(np.mean((np.log(np.maximum(g(x), 1e-12)) - ly) ** 2)))

    linear, power = (Growth(g.kind, g.a, g.b, g.exponent, rms(g)) for g in (linear, power))
    if power.exponent < 0:  # a cost does not fall as the corpus grows: that is noise, and the line is flat
        return linear
    return linear if linear.rel_error <= power.rel_error * 1.05 else power  # prefer the line when about as good


METRICS = {"wall_s": "wall", "cpu_s": "CPU", "peak_rss_mb": "peak RSS"}


def scale_table(measured: pd.DataFrame, targets: Mapping[str, float] = CORPUS_MINUTES) -> pd.DataFrame:
    """Per stage and metric: the measured cost at each corpus size, the fitted growth and the cost it predicts
    for each of `targets` (name -> minutes).

    `measured` has columns minutes, stage, wall_s, cpu_s, peak_rss_mb (one row per stage and size, as
    `per_stage` gives for each run).
    """
    sizes = sorted(measured["minutes"].unique())
    rows = []
    for stage in dict.fromkeys(measured["stage"]):
        at = measured[measured["stage"] == stage].set_index("minutes")
        for column, label in METRICS.items():
            fmt = format_memory if column == "peak_rss_mb" else format_duration
            row = {"stage": stage, "metric": label}
            row.update({f"{m:.3g} min": fmt(at[column].get(m, math.nan)) for m in sizes})
            try:
                growth = fit_growth(at.index, at[column])
            except InputError:
                row["growth"] = "too few measurements"
                row.update({name: "n/a" for name in targets})
            else:
                row["growth"] = f"{growth.kind}, exponent {growth.exponent:.2f}"
                row.update({name: fmt(float(growth(minutes))) for name, minutes in targets.items()})
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["notes"] = [
        "measured columns: minutes of audio in the corpus; wall and CPU are summed over the stage's jobs, "
        "peak RSS is the largest of one job",
        "growth: constant when the sizes' figures lie within ~5 %, else affine (a + b·x) or power law (a·x^b), "
        "whichever is closer in log space; exponent = log-log slope",
        "per-recording stages (synthesis, preprocess, segment, features): their peak RSS follows the length of one "
        "recording, which is the scale runs' length, not the target corpus's (RECOLA: 5 min)",
        "extrapolated columns: " + ", ".join(f"{name} = {minutes:g} min" for name, minutes in targets.items()),
    ]
    return table


def write_markdown(table: pd.DataFrame, path: str | Path, title: str | None = None) -> None:
    """The table (and its notes) as a Markdown file, written atomically."""
    from emotrace.io import atomic_write

    text = (f"# {title}\n\n" if title else "") + to_markdown(table)
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text)


# ---------------------------------------------------------------- scale runs (bench/scale.py)


def scaled_config(base: Mapping, n_speakers: int, duration: float, epochs: int, models: Sequence[str] | None = None,
                  name: str | None = None) -> dict:
    """`base` (a synthetic-corpus config) resized to `n_speakers` x `duration` s, training capped at `epochs`
    epochs (every model), keeping only `models` when given; results and corpus go under the new name."""
    import copy

    if base["corpus"]["adapter"] != "synthetic":
        raise InputError("corpus.adapter", "scale runs generate their corpus: the base config must be synthetic")
    config = copy.deepcopy(dict(base))
    name = name or f"scale_{n_speakers}x{duration:g}s"
    config["corpus"].update(name=name, root=f"results/corpora/{name}")
    config["synthetic"] = {**config.get("synthetic", {}), "n_speakers": int(n_speakers), "duration": float(duration)}
    config["training"] = {**config.get("training", {}), "max_epochs": int(epochs), "patience": int(epochs)}
    if models is not None:
        unknown = [m for m in models if m not in config["models"]]
        if unknown:
            raise InputError("models", f"{unknown} not in the base config; it has {sorted(config['models'])}")
        config["models"] = {m: config["models"][m] for m in models}
    for entry in config["models"].values():
        for key in ("max_epochs", "patience"):
            if key in entry:
                entry[key] = int(epochs)
    return config


def run_stages(workdir: str | Path, corpus: str, minutes: float) -> pd.DataFrame:
    """Per-stage cost (`per_stage`) of the run in `workdir` from its benchmarks/{corpus}/ files, with its minutes."""
    paths = sorted((Path(workdir) / "benchmarks" / corpus).rglob("*.tsv"))
    if not paths:
        raise InputError(Path(workdir) / "benchmarks" / corpus, "no benchmark file: did the run finish?")
    stages = per_stage(collect(paths))
    stages.insert(0, "minutes", float(minutes))
    return stages
