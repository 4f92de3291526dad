"""Table 1 of Trigeorgis 2016 and of Yang & Hirschberg 2018, regenerated from metrics.csv files.

Cells read "test [interval] (dev)" CCC, as in both papers plus the test figure's
bootstrap interval where `all_metrics` carries one (`emotrace.runs`); over several seeds
each figure is mean±std (sample std, ddof=1) and the interval is that of the seed mean.
Post-processed dev figures add the leave-one-dev-recording-out estimate ("LOO").
Systems flagged `collapsed` (`emotrace.collapse`) are marked so in their cell. A
"raters (leave one out)" row gives the raters' own ceiling (`emotrace.agreement`).
Rows are found by what a system is (`emotrace.identity`), never by its config key.
The published figures (docs/references.md §2) sit in their own, labelled columns so that they
are never mistaken for reproduced ones.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.identity import MISSING, TRIGEORGIS_ROWS, YANG_ROWS, PaperRow, members, target
from emotrace.io import atomic_write
from emotrace.metrics import METRICS_FILE_COLUMNS

log = logging.getLogger(__name__)

KEY_COLUMNS = ["corpus", "model", "objective", "target", "seed"]
DIMENSIONS = ("arousal", "valence")
TRIGEORGIS_PARTS = {"mse": "a) MSE objective", "ccc": "b) CCC objective"}
YANG_CORPORA = ("SEMAINE", "RECOLA")  # the corpora Yang & Hirschberg 2018 publish figures for

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


def format_number(value: float) -> str:
    """CCC as the papers print it: three decimals, no leading zero (.684, -.012)."""
    if abs(value) < 0.0005:
        value = 0.0  # never "-.000"
    text = f"{value:.3f}"
    return text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text


def format_seeds(values) -> str:
    """One figure, or mean±std (ddof=1) over seeds; MISSING when there is none."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return MISSING
    if v.size == 1:
        return format_number(v[0])
    return f"{format_number(v.mean())}±{format_number(v.std(ddof=1))}"


def format_interval(low: float, high: float) -> str:
    """'[.61, .83]'; empty when the interval is unknown (NaN)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    return f"[{format_number(low)}, {format_number(high)}]"


def format_cell(test_values, dev_values, test_interval: tuple[float, float] | None = None,
                dev_loo: float | None = None) -> str:
    """'test [low, high] (dev; LOO x)', each over seeds; MISSING when neither exists."""
    test, dev = format_seeds(test_values), format_seeds(dev_values)
    if test == MISSING and dev == MISSING:
        return MISSING
    if test != MISSING and test_interval is not None and format_interval(*test_interval):
        test += " " + format_interval(*test_interval)
    if dev_loo is not None and np.isfinite(dev_loo):
        dev += f"; LOO {format_number(dev_loo)}"
    return f"{test} ({dev})"


def _column_mean(rows: pd.DataFrame, column: str) -> float | None:
    if column not in rows.columns or rows.empty:
        return None
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64)
    return float(values.mean()) if np.isfinite(values).all() else None


def system_cell(rows: pd.DataFrame, metric: str = "ccc") -> tuple[str, str]:
    """Cell text of one system and dimension (its test and dev rows over seeds) and, when it
    is collapsed, the note that says why."""
    test, dev = rows[rows["partition"] == "test"], rows[rows["partition"] == "dev"]
    bounds = None
    if len(test) == 1 and f"{metric}_low" in test.columns:
        bounds = (float(test[f"{metric}_low"].iloc[0]), float(test[f"{metric}_high"].iloc[0]))
    elif len(test) > 1 and metric == "ccc" and "ccc_seeds_low" in test.columns:
        bounds = (float(test["ccc_seeds_low"].iloc[0]), float(test["ccc_seeds_high"].iloc[0]))
    loo = _column_mean(dev, "dev_ccc_loo") if metric == "ccc" else None
    cell = format_cell(test[metric].to_list(), dev[metric].to_list(), bounds, loo)
    if "collapsed" not in rows.columns or cell == MISSING:
        return cell, ""
    flags = test if not test.empty else dev
    flagged = flags[flags["collapsed"].astype(bool)]
    if flagged.empty:
        return cell, ""
    seeds = "" if len(flagged) == len(flags) else f" in {len(flagged)} of {len(flags)} seeds"
    return f"collapsed{seeds}: {cell}", f"{flagged['collapse_reason'].iloc[0]}{seeds}"


RATERS_LABEL = "raters (leave one out)"


def raters_cells(agreement: pd.DataFrame | None) -> dict[str, str]:
    """Per dimension, the raters' leave-one-out CCC as a cell 'test [low, high] (dev)'."""
    cells = {}
    for dim in DIMENSIONS:
        rows = agreement[agreement["dimension"] == dim] if agreement is not None and not agreement.empty else None
        if rows is None or rows.empty:
            cells[dim] = MISSING
            continue
        test, dev = rows[rows["partition"] == "test"], rows[rows["partition"] == "dev"]
        bounds = (float(test["loo_ccc_low"].iloc[0]), float(test["loo_ccc_high"].iloc[0])) if len(test) else None
        cells[dim] = format_cell(test["loo_ccc"].to_list(), dev["loo_ccc"].to_list(), bounds)
    return cells


def raters_note(agreement: pd.DataFrame | None) -> str:
    """What the raters' row shows, or that the corpus has no individual ratings."""
    if agreement is None:
        return ""
    if agreement.empty:
        return f"{RATERS_LABEL}: the corpus has no individual ratings, so there is no raters' ceiling"
    n = ", ".join(f"{r.partition} {r.n_raters}" for r in agreement.drop_duplicates("partition").itertuples())
    return (f"{RATERS_LABEL}: mean CCC of each rater against the mean of the others, the raters' ceiling "
            f"for a model scored against the gold standard (raters per partition: {n}); "
            "pairwise CCC and Cronbach's alpha in raters_agreement.csv")


def _one_corpus(df: pd.DataFrame) -> None:
    corpora = pd.unique(df["corpus"]) if "corpus" in df.columns else []
    if len(corpora) > 1:
        raise InputError("metrics", f"a table covers one corpus; got {sorted(map(str, corpora))}")


def _system_rows(df: pd.DataFrame, model: str, objective: str, dimension: str, target_: str) -> pd.DataFrame:
    """Rows (both partitions, every seed) of one system and dimension."""
    return df[(df["model"] == model) & (df["objective"] == objective) & (df["dimension"] == dimension)
              & (df["target"] == target_)]


def check_models(df: pd.DataFrame, models: Mapping[str, Mapping]) -> None:
    """Every system with results must be a configured one: the config says what it is (`emotrace.identity`)."""
    unknown = sorted(set(map(str, pd.unique(df["model"]))) - set(models)) if "model" in df.columns else []
    if unknown:
        raise InputError("metrics", f"results of {unknown}, which the config's models do not name (configured: "
                                    f"{sorted(models)}); a table finds systems by what the config says they are")


def filled_rows(models: Mapping[str, Mapping], rows: tuple[PaperRow, ...]) -> list[tuple[PaperRow, str | None, str]]:
    """(paper row, model key or None where no configured system fills it, label) per table line, in the
    paper's order; a row that several systems fill gives one line each, labelled by its key."""
    out = []
    for row in rows:
        keys = members(models, row)
        out += [(row, None, row.label)] if not keys else [
            (row, key, row.label if len(keys) == 1 else f"{row.label} [{key}]") for key in keys]
    return out


def _filtered(df: pd.DataFrame, postprocessed: bool, metric: str) -> pd.DataFrame:
    missing = [c for c in KEY_COLUMNS + ["partition", "dimension", "postprocessed", metric] if c not in df.columns]
    if missing:
        raise InputError("metrics", f"missing columns {missing}; use tables.collect")
    _one_corpus(df)
    return df[df["postprocessed"].astype(bool) == postprocessed]


def _lowered(df: pd.DataFrame, label: str, model: str, objective: str, dim: str, target_: str, metric: str) -> str:
    """'label dim: raw -> post-processed' when post-processing lowered the mean test figure; else ''."""
    rows = _system_rows(df[df["partition"] == "test"], model, objective, dim, target_)
    raw = rows.loc[~rows["postprocessed"].astype(bool), metric]
    post = rows.loc[rows["postprocessed"].astype(bool), metric]
    if raw.empty or post.empty or not post.mean() < raw.mean():
        return ""
    return f"{label} {dim} {format_number(raw.mean())} -> {format_number(post.mean())}"


def _unfilled(row: PaperRow, label: str) -> str:
    return f"{label} ({row.objective.upper()}): no configured system is {row.identity.describe()}"


def _finish(table: pd.DataFrame, missing: list[str], notes: list[str], collapsed: list[str] = (),
            lowered: list[str] = ()) -> pd.DataFrame:
    if missing:
        log.warning("systems without results: %s", "; ".join(missing))
        notes = notes + [f"missing ({MISSING}): " + "; ".join(missing)]
    if collapsed:
        notes = notes + ["collapsed (a degenerate model; its figure means nothing): " + "; ".join(collapsed)]
    if lowered:
        notes = notes + ["post-processing lowered test CCC: " + "; ".join(lowered)]
    table.attrs["missing"] = missing
    table.attrs["collapsed"] = list(collapsed)
    table.attrs["notes"] = notes
    return table


def _common_notes(metric: str, postprocessed: bool, agreement: pd.DataFrame | None, extra) -> list[str]:
    notes = [
        f"{metric} on test [interval] (dev in parentheses), all recordings of a partition concatenated; "
        f"mean±std over seeds where there are several, the interval then that of the seed mean; "
        f"post-processed: {'yes' if postprocessed else 'no'}",
    ]
    if postprocessed:
        notes.append("LOO: dev CCC with the post-processing tuned on the other dev recordings "
                     "(leave one dev recording out), beside the figure tuned on all of them")
    return notes + [n for n in [raters_note(agreement), *extra] if n]


def trigeorgis_table(df: pd.DataFrame, models: Mapping[str, Mapping], postprocessed: bool = True, metric: str = "ccc",
                     agreement: pd.DataFrame | None = None, notes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Trigeorgis 2016 Table 1: MSE rows (a) and CCC rows (b), arousal/valence 'test [interval] (dev)'.

    `models` is the config's `models`: each row shows every configured system that is what the
    row describes (`emotrace.identity`), whatever its key. Rows and systems without results get
    MISSING cells and are listed in `table.attrs['missing']` (and logged); collapsed ones
    are marked and listed, and cells where post-processing lowered test CCC are listed in
    the notes. With `agreement` (raters_agreement.csv) a raters' row closes the table.
    """
    data = _filtered(df, postprocessed, metric)
    check_models(df, models)
    rows, missing, collapsed, lowered = [], [], [], []
    for paper_row, model, label in filled_rows(models, TRIGEORGIS_ROWS):
        objective = paper_row.objective
        row = {"part": TRIGEORGIS_PARTS[objective], "system": label, "model": model or MISSING}
        absent = []
        for dim in DIMENSIONS:
            if model is None:
                row[dim] = MISSING
                continue
            t = target(models[model], dim)
            row[dim], why = system_cell(_system_rows(data, model, objective, dim, t), metric)
            if row[dim] == MISSING:
                absent.append(dim)
            if why:
                collapsed.append(f"{label} ({objective.upper()}) {dim}: {why}")
            if postprocessed:
                lowered.append(_lowered(df, f"{label} ({objective.upper()})", model, objective, dim, t, metric))
        if model is None:
            missing.append(_unfilled(paper_row, label))
        elif absent:
            missing.append(f"{model}/{objective} ({', '.join(absent)})")
        row["published arousal (RECOLA)"], row["published valence (RECOLA)"] = paper_row.published["RECOLA"]
        rows.append(row)
    if agreement is not None:
        rows.append({"part": "c) raters", "system": RATERS_LABEL, "model": "raters", **raters_cells(agreement),
                     "published arousal (RECOLA)": MISSING, "published valence (RECOLA)": MISSING})
    table_notes = _common_notes(metric, postprocessed, agreement, notes) + [
        "published: Trigeorgis et al. 2016, RECOLA 16/15/15 speakers; the 2017 frame-wise row is not in the paper",
        MATCHING_NOTE,
    ]
    return _finish(pd.DataFrame(rows), missing, table_notes, collapsed, [x for x in lowered if x])


MATCHING_NOTE = ("rows are matched by what a system is (network, features, objective, one model per dimension or "
                 "one joint model, as the paper describes it), not by its config key; model: the config key of "
                 "the system in the row; other configured systems are in beyond_table")


def yang_table(df: pd.DataFrame, models: Mapping[str, Mapping], corpus_label: str, postprocessed: bool = False,
               metric: str = "ccc", agreement: pd.DataFrame | None = None, notes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Yang & Hirschberg 2018 Table 1 for one corpus: baseline / W only / S only / W+S, CCC objective,
    one model for both dimensions; rows found by what a system is, as in `trigeorgis_table`.

    The paper does not post-process, hence `postprocessed=False` by default.
    """
    label = corpus_label.upper()
    if label not in YANG_CORPORA:
        raise InputError("corpus_label", f"published figures exist for {sorted(YANG_CORPORA)}, not {corpus_label!r}")
    data = _filtered(df, postprocessed, metric)
    check_models(df, models)
    rows, missing, collapsed = [], [], []
    for paper_row, model, system in filled_rows(models, YANG_ROWS):
        row = {"system": system, "model": model or MISSING}
        absent = []
        for dim in DIMENSIONS:
            if model is None:
                row[dim] = MISSING
                continue
            row[dim], why = system_cell(_system_rows(data, model, "ccc", dim, target(models[model], dim)), metric)
            if row[dim] == MISSING:
                absent.append(dim)
            if why:
                collapsed.append(f"{system} {dim}: {why}")
        if model is None:
            missing.append(_unfilled(paper_row, system))
        elif absent:
            missing.append(f"{model}/ccc ({', '.join(absent)})")
        row[f"published arousal ({label})"], row[f"published valence ({label})"] = paper_row.published[label]
        rows.append(row)
    if agreement is not None:
        rows.append({"system": RATERS_LABEL, "model": "raters", **raters_cells(agreement),
                     f"published arousal ({label})": MISSING, f"published valence ({label})": MISSING})
    table_notes = _common_notes(metric, postprocessed, agreement, notes) + [
        f"published: Yang & Hirschberg 2018, {label}, test set only", MATCHING_NOTE,
    ]
    return _finish(pd.DataFrame(rows), missing, table_notes, collapsed)


def published_label(adapter: str) -> str:
    """The corpus whose published figures the tables and findings show: SEMAINE for its adapter, else RECOLA."""
    return "SEMAINE" if adapter == "semaine" else "RECOLA"


def paper_tables(metrics: pd.DataFrame, models: Mapping[str, Mapping], adapter: str, corpus: str,
                 notes: tuple[str, ...] = (), agreement: pd.DataFrame | None = None,
                 extra_notes: list[str] = ()) -> dict[str, tuple[str, pd.DataFrame]]:
    """Both papers' Table 1 by file stem, each with its title: `notes` go to both (Yang's gets the first only, the
    scaling note being about post-processing), `extra_notes` (the split's) after every other note."""
    published = published_label(adapter)
    tables = {
        "trigeorgis2016_table1": ("Trigeorgis et al. 2016, Table 1",
                                  trigeorgis_table(metrics, models, agreement=agreement, notes=notes)),
        "yang2018_table1": ("Yang & Hirschberg 2018, Table 1",
                            yang_table(metrics, models, published, agreement=agreement, notes=notes[:1])),
    }
    for _, table in tables.values():
        table.attrs["notes"] = table.attrs.get("notes", []) + list(extra_notes)
    return {stem: (f"{title} ({corpus})", table) for stem, (title, table) in tables.items()}


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


def to_html(table: pd.DataFrame, title: str) -> str:
    """A standalone HTML page: the table and its notes (for the report, which shows HTML pages)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in table.attrs.get("notes", []))
    style = ("body{font-family:sans-serif;font-size:14px;margin:1em}table{border-collapse:collapse}"
             "th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}th{background:#eee}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table><ul>{notes}</ul></body></html>\n")


def metrics_page(metrics: pd.DataFrame) -> str:
    """all_metrics as an HTML page, figures rounded to three decimals."""
    shown = metrics.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    shown.attrs["notes"] = [
        "one row per run, partition, dimension and post-processing state; *_low/*_high: bootstrap interval; "
        "ccc_seeds_*: interval of the mean over seeds; dev_ccc_loo: leave-one-dev-recording-out post-processed "
        "dev CCC; collapsed: a degenerate model (collapse_reason says why)",
    ]
    return to_html(shown, "All metrics")


def write_table(table: pd.DataFrame, stem: Path, title: str | None = None) -> None:
    """Write stem.csv, stem.md, stem.tex and stem.html, each atomically."""
    stem = Path(stem)
    with atomic_write(stem.with_name(stem.name + ".html")) as tmp:
        tmp.write_text(to_html(table, title or stem.name), encoding="utf-8")
    with atomic_write(stem.with_name(stem.name + ".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_write(stem.with_name(stem.name + ".md")) as tmp:
        tmp.write_text(to_markdown(table), encoding="utf-8")
    with atomic_write(stem.with_name(stem.name + ".tex")) as tmp:
        tmp.write_text(to_latex(table), encoding="utf-8")
