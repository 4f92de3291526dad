"""Learning curves from history.csv: training loss and dev CCC per epoch, the kept (best) epoch marked."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd
from matplotlib.ticker import MaxNLocator, MultipleLocator

from emotrace.errors import InputError
from emotrace.figures import Output, Rule, new_figure, require_input, save_figure

DIM_STYLES = ["--", ":", (0, (5, 1, 1, 1)), (0, (1, 2))]


def read_history(path: str | Path, rule: Rule = None) -> pd.DataFrame:
    """Read and check a history.csv (epoch, train_loss, dev_ccc_<dimension>..., dev_ccc_mean)."""
    path = require_input(path, rule, "history")
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(path, f"cannot read training history ({err})") from err
    missing = [c for c in ("epoch", "train_loss", "dev_ccc_mean") if c not in df.columns]
    if missing:
        raise InputError(path, f"missing columns {missing}")
    if df.empty:
        raise InputError(path, "no epoch in the training history")
    return df.sort_values("epoch").reset_index(drop=True)


def plot_learning_curves(histories: Mapping[str, str | Path | pd.DataFrame], output: Output, rule: Rule = None,
                         title: str | None = None) -> list[Path]:
    """Train loss (top) and dev CCC (bottom: mean solid, per dimension thinner) per epoch for each run.

    `histories` maps a run label to a history.csv path or its data frame; the epoch with
    the best mean dev CCC (the weights training keeps) is marked with a star.
    """
    if not histories:
        raise InputError("histories", "no training history to plot")
    runs = {label: h if isinstance(h, pd.DataFrame) else read_history(h, rule) for label, h in histories.items()}
    fig = new_figure(10, 6.5)
    ax_loss, ax_ccc = fig.subplots(2, 1, sharex=True)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for colour, (label, df) in zip(colours, runs.items()):
        ax_loss.plot(df["epoch"], df["train_loss"], marker="o", markersize=3, color=colour, label=label)
        ax_ccc.plot(df["epoch"], df["dev_ccc_mean"], marker="o", markersize=3, color=colour, label=f"{label}: mean")
        dims = [c for c in df.columns if c.startswith("dev_ccc_") and c != "dev_ccc_mean"]
        if len(dims) > 1:
            for style, column in zip(DIM_STYLES * 2, dims):
                ax_ccc.plot(df["epoch"], df[column], linestyle=style, linewidth=1, color=colour,
                            label=f"{label}: {column[len('dev_ccc_'):]}")
        best = df.loc[df["dev_ccc_mean"].idxmax()]
        ax_ccc.plot([best["epoch"]], [best["dev_ccc_mean"]], marker="*", markersize=12, color=colour, linestyle="none")
    ax_loss.set_ylabel("training loss (objective)")
    ax_loss.set_title("training loss per epoch (1 - CCC for the CCC objective, MSE otherwise)")
    ax_ccc.set_ylabel("dev CCC")
    ax_ccc.set_xlabel("epoch")
    ax_ccc.set_title("dev CCC per epoch (star: best epoch, whose weights are kept)")
    last = max(int(df["epoch"].max()) for df in runs.values())
    for ax in (ax_loss, ax_ccc):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax_ccc.set_xlim(0.5, last + 0.5)
    ax_ccc.xaxis.set_major_locator(MultipleLocator(1) if last <= 12 else MaxNLocator(integer=True))
    fig.suptitle(title or "Learning curves")
    return save_figure(fig, output)
