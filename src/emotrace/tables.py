"""Table 1 of Trigeorgis 2016 and of Yang & Hirschberg 2018, regenerated from metrics.csv files.

Cells read "test (dev)" CCC, as in both papers; over several seeds each figure is
mean±std (sample std, ddof=1). The published figures (REFERENCE §1) sit in their
own, labelled columns so that they are never mistaken for reproduced ones.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.io import atomic_write
from emotrace.metrics import METRICS_FILE_COLUMNS

log = logging.getLogger(__name__)

MISSING = "–"
KEY_COLUMNS = ["corpus", "model", "objective", "target", "seed"]
DIMENSIONS = ("arousal", "valence")

# (objective, model, row label, published arousal, published valence) in the paper's order.
TRIGEORGIS_ROWS = [
    ("mse", "svr_egemaps", "eGeMAPS + SVR", ".318 (.489)", ".169 (.210)"),
    ("mse", "svr_compare", "ComParE + SVR", ".366 (.491)", ".180 (.178)"),
    ("mse", "drnn_egemaps", "eGeMAPS + BLSTM-DRNN", ".300 (.404)", ".192 (.187)"),
    ("mse", "drnn_compare", "ComParE + BLSTM-DRNN", ".132 (.221)", ".117 (.152)"),
    ("mse", "e2e", "raw signal, end-to-end", ".684 (.728)", ".249 (.312)"),
    ("mse", "e2e2017", "extra: raw signal, frame-wise CNN (authors' 2017 code)", MISSING, MISSING),
    ("ccc", "drnn_egemaps", "eGeMAPS + BLSTM-DRNN", ".316 (.445)", ".195 (.190)"),
    ("ccc", "drnn_compare", "ComParE + BLSTM-DRNN", ".382 (.478)", ".187 (.246)"),
    ("ccc", "e2e", "raw signal, end-to-end", ".686 (.741)", ".261 (.325)"),
    ("ccc", "e2e2017", "extra: raw signal, frame-wise CNN (authors' 2017 code)", MISSING, MISSING),
]
TRIGEORGIS_PARTS = {"mse": "a) MSE objective", "ccc": "b) CCC objective"}

# (model, row label) and the published test CCC (arousal, valence) per corpus.
YANG_ROWS = [
    ("blstm6373", "baseline (ComParE 6373 + BLSTM)"),
    ("wave", "W only"),
    ("spec", "S only"),
    ("wavespec", "W+S"),
]
YANG_PUBLISHED = {
    "SEMAINE": {"blstm6373": (".376", ".177"), "wave": (".675", ".435"), "spec": (".656", ".494"), "wavespec": (".680", ".506")},
    "RECOLA": {"blstm6373": (".317", ".162"), "wave": (".674", ".361"), "spec": (".651", ".408"), "wavespec": (".692", ".423")},
}

_PATH_PATTERN = "results/{corpus}/evaluate/{model}/{objective}/{target}/seed{seed}/metrics.csv"


def _parse_path(path: Path) -> dict:
    parts = path.parts
    if len(parts) < 7 or parts[-1] != "metrics.csv" or parts[-6] != "evaluate" or not re.fullmatch(r"seed\d+", parts[-2]):
        raise InputError(path, f"not a metrics file path like {_PATH_PATTERN}")
    return {
        "corpus": parts[-7], "model": parts[-5], "objective": parts[-4], "target": parts[-3],
        "seed": int(parts[-2][len("seed"):]),
    }


def _as_bool(values: pd.Series, path: Path) -> pd.Series:
    mapping = {"true": True, "false": False, "1": True, "0": False}
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(list(mapping))
    if bad.any():
        raise InputError(path, f"column 'postprocessed' has non-boolean value {values[bad].iloc[0]!r}")
    return text.map(mapping).astype(bool)


def collect(metric_files: list[Path]) -> pd.DataFrame:
    """All metrics.csv rows, with corpus, model, objective, target and seed parsed from each path."""
    frames = []
    for path in map(Path, metric_files):
        keys = _parse_path(path)
        try:
            df = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise InputError(path, f"cannot read metrics: {err}") from err
        missing = [c for c in METRICS_FILE_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(path, f"missing columns {missing}")
        df = df[METRICS_FILE_COLUMNS].assign(postprocessed=lambda d: _as_bool(d["postprocessed"], path))
        frames.append(df.assign(**keys))
    columns = KEY_COLUMNS + METRICS_FILE_COLUMNS
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    dup = out.duplicated(KEY_COLUMNS + ["partition", "dimension", "postprocessed"])
    if dup.any():
        row = out.loc[dup].iloc[0]
        raise InputError("metrics files", f"two rows for {row[KEY_COLUMNS + ['partition', 'dimension']].to_dict()}")
    return out


def _number(value: float) -> str:
    """CCC as the papers print it: three decimals, no leading zero (.684, -.012)."""
    text = f"{value:.3f}"
    return text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text


def format_seeds(values) -> str:
    """One figure, or mean±std (ddof=1) over seeds; MISSING when there is none."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return MISSING
    if v.size == 1:
        return _number(v[0])
    return f"{_number(v.mean())}±{_number(v.std(ddof=1))}"


def format_cell(test_values, dev_values) -> str:
    """'test (dev)', each over seeds; MISSING when neither exists."""
    test, dev = format_seeds(test_values), format_seeds(dev_values)
    if test == MISSING and dev == MISSING:
        return MISSING
    return f"{test} ({dev})"


def _one_corpus(df: pd.DataFrame) -> None:
    corpora = pd.unique(df["corpus"]) if "corpus" in df.columns else []
    if len(corpora) > 1:
        raise InputError("metrics", f"a table covers one corpus; got {sorted(map(str, corpora))}")


def _system_values(df: pd.DataFrame, model: str, objective: str, dimension: str, prefer: tuple[str, str], metric: str) -> dict:
    """Per partition, the metric over seeds for one system and dimension (preferring one target kind)."""
    rows = df[(df["model"] == model) & (df["objective"] == objective) & (df["dimension"] == dimension)]
    for target in prefer:
        chosen = rows[rows["target"] == target]
        if not chosen.empty:
            break
    return {p: chosen.loc[chosen["partition"] == p, metric].to_list() for p in ("test", "dev")}


def _filtered(df: pd.DataFrame, postprocessed: bool, metric: str) -> pd.DataFrame:
    missing = [c for c in KEY_COLUMNS + ["partition", "dimension", "postprocessed", metric] if c not in df.columns]
    if missing:
        raise InputError("metrics", f"missing columns {missing}; use tables.collect")
    _one_corpus(df)
    return df[df["postprocessed"].astype(bool) == postprocessed]


def _finish(table: pd.DataFrame, missing: list[str], notes: list[str]) -> pd.DataFrame:
    if missing:
        log.warning("systems without results: %s", "; ".join(missing))
        notes = notes + [f"missing ({MISSING}): " + "; ".join(missing)]
    table.attrs["missing"] = missing
    table.attrs["notes"] = notes
    return table


def trigeorgis_table(df: pd.DataFrame, postprocessed: bool = True, metric: str = "ccc") -> pd.DataFrame:
    """Trigeorgis 2016 Table 1: MSE rows (a) and CCC rows (b), arousal/valence 'test (dev)'.

    Per-dimension runs are preferred to joint ones. Systems without results get
    MISSING cells and are listed in `table.attrs['missing']` (and logged).
    """
    data = _filtered(df, postprocessed, metric)
    rows, missing = [], []
    for objective, model, label, pub_a, pub_v in TRIGEORGIS_ROWS:
        row = {"part": TRIGEORGIS_PARTS[objective], "system": label, "model": model}
        absent = []
        for dim in DIMENSIONS:
            values = _system_values(data, model, objective, dim, (dim, "joint"), metric)
            row[dim] = format_cell(values["test"], values["dev"])
            if row[dim] == MISSING:
                absent.append(dim)
        if absent:
            missing.append(f"{model}/{objective} ({', '.join(absent)})")
        row["published arousal (RECOLA)"] = pub_a
        row["published valence (RECOLA)"] = pub_v
        rows.append(row)
    notes = [
        f"{metric} on test (dev in parentheses), all recordings of a partition concatenated; "
        f"mean±std over seeds where there are several; post-processed: {'yes' if postprocessed else 'no'}",
        "published: Trigeorgis et al. 2016, RECOLA 16/15/15 speakers; the 2017 frame-wise row is not in the paper",
    ]
    return _finish(pd.DataFrame(rows), missing, notes)


def yang_table(df: pd.DataFrame, corpus_label: str, postprocessed: bool = False, metric: str = "ccc") -> pd.DataFrame:
    """Yang & Hirschberg 2018 Table 1 for one corpus: baseline / W only / S only / W+S, CCC objective.

    The paper does not post-process, hence `postprocessed=False` by default. Joint
    runs (one model for both dimensions) are preferred to per-dimension ones.
    """
    label = corpus_label.upper()
    if label not in YANG_PUBLISHED:
        raise InputError("corpus_label", f"published figures exist for {sorted(YANG_PUBLISHED)}, not {corpus_label!r}")
    data = _filtered(df, postprocessed, metric)
    rows, missing = [], []
    for model, system in YANG_ROWS:
        row = {"system": system, "model": model}
        absent = []
        for dim in DIMENSIONS:
            values = _system_values(data, model, "ccc", dim, ("joint", dim), metric)
            row[dim] = format_cell(values["test"], values["dev"])
            if row[dim] == MISSING:
                absent.append(dim)
        if absent:
            missing.append(f"{model}/ccc ({', '.join(absent)})")
        pub_a, pub_v = YANG_PUBLISHED[label][model]
        row[f"published arousal ({label})"] = pub_a
        row[f"published valence ({label})"] = pub_v
        rows.append(row)
    notes = [
        f"{metric} on test (dev in parentheses), all recordings of a partition concatenated; "
        f"mean±std over seeds where there are several; post-processed: {'yes' if postprocessed else 'no'}",
        f"published: Yang & Hirschberg 2018, {label}, test set only",
    ]
    return _finish(pd.DataFrame(rows), missing, notes)


def _markdown_cell(value) -> str:
    return str(value).replace("|", r"\|").replace("\n", " ")


def to_markdown(table: pd.DataFrame) -> str:
    """GitHub Markdown table, followed by the table's notes as a list."""
    lines = [
        "| " + " | ".join(_markdown_cell(c) for c in table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    notes = table.attrs.get("notes", [])
    if notes:
        lines += [""] + [f"- {_markdown_cell(n)}" for n in notes]
    return "\n".join(lines) + "\n"


_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}", "±": r"$\pm$", "–": "--",
}


def _latex_cell(value) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(value).replace("\n", " "))


def to_latex(table: pd.DataFrame) -> str:
    """LaTeX tabular with booktabs rules; a \\midrule between parts; notes as comments."""
    lines = [f"% {_latex_cell(n)}" for n in table.attrs.get("notes", [])]
    lines += [
        r"\begin{tabular}{" + "l" * len(table.columns) + "}",
        r"\toprule",
        " & ".join(_latex_cell(c) for c in table.columns) + r" \\",
        r"\midrule",
    ]
    previous = None
    for row in table.itertuples(index=False):
        if "part" in table.columns:
            part = row[list(table.columns).index("part")]
            if previous is not None and part != previous:
                lines.append(r"\midrule")
            previous = part
        lines.append(" & ".join(_latex_cell(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, stem: Path) -> None:
    """Write stem.csv, stem.md and stem.tex, each atomically."""
    stem = Path(stem)
    with atomic_write(stem.with_name(stem.name + ".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_write(stem.with_name(stem.name + ".md")) as tmp:
        tmp.write_text(to_markdown(table), encoding="utf-8")
    with atomic_write(stem.with_name(stem.name + ".tex")) as tmp:
        tmp.write_text(to_latex(table), encoding="utf-8")
