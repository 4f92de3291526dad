"""Speaker folds and training redraws: several splits of one corpus, each a draw named "1".."N".

Folds (`split.folds: K`, with `split.method: stratified`): the split units (the manifest's
`group`: speaker, or recording for SEMAINE) are dealt into K folds of near-equal size by the
stratified split's gender/age dealing (`emotrace.splits.deal`, seed `split.seed`, the same
dealing for every fold). Fold k tests its own units, so every unit is tested exactly once,
by models that never heard it. Its dev partition is dealt from the other units by the
stratified split at the train:dev shares of `split.proportions` (the test share is
ignored), seed (split.seed, k); train is the rest.

Redraws (`split.redraws: R`, with `split.method: preset` or `lists`): the test partition stays
as published. Draw 1 is the published (or listed) split itself; draw r >= 2 redraws train and
dev from the published train+dev units, keeping the published train and dev counts, seed
(split.seed, r). A preset's units absent from the corpus are left out as `make_split` does
(noted); units in no partition stay out. The redraw samples at random within strata (gender,
then blocks of similar age), not by the deterministic dealing: with distinct ages the dealing's
seed only breaks ties, so its draws repeat (measured: 4 different train/dev splits of 18 speakers
over 200 seeds). A draw equal to the published or an earlier one is drawn again from the same
seed; where the stratified draws are all taken, one of the train/dev splits not taken yet is
drawn at random (its note says it is not stratified).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations
from math import ceil, comb
from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.splits import EQUAL_SHARES, PARTITIONS, _groups, deal, make_split, split_rows, stratified

log = logging.getLogger(__name__)
REDRAW_TRIES = 100  # stratified draws tried before the dev sets not taken yet are listed
ENUMERATE_UP_TO = 100_000  # dev sets listed at most; beyond, a repeated train/dev split is kept (and noted)


@dataclass(frozen=True)
class DrawPlan:
    """Which several splits a config asks for: `kind` folds or redraws, draws named "1".."N"."""

    kind: str
    names: tuple[str, ...]


def draw_plan(split_cfg: dict) -> DrawPlan | None:
    """The folds or redraws of the `split` config section; None for the default single split."""
    for kind in ("folds", "redraws"):
        count = split_cfg.get(kind)
        if count is not None:
            return DrawPlan(kind, tuple(str(i) for i in range(1, int(count) + 1)))
    return None


def _fixed_lists(split_cfg: dict, presets: dict | None) -> tuple[str, dict[str, list[str]]] | None:
    """(what, {partition: groups}) of the fixed split redraws start from; None where not known yet."""
    if split_cfg.get("method") == "lists":
        return "split.lists", split_cfg.get("lists") or {}
    preset = split_cfg.get("preset")
    if presets is not None and preset in presets:
        return f"split.preset {preset}", presets[preset]
    return None


def check_draws(split_cfg: dict, n_units: int | None, presets: dict | None) -> None:
    """Refuse folds or redraws that cannot be made, naming the key and the count that fails.

    `n_units`: the corpus's split units (None: not known yet, the counts are checked in the
    split job); `presets`: the adapter's published splits (None: not known yet).
    """
    folds, redraws = split_cfg.get("folds"), split_cfg.get("redraws")
    method = split_cfg.get("method", "stratified")
    if folds is not None and redraws is not None:
        raise InputError("split", f"split.folds ({folds}) and split.redraws ({redraws}) are both set; set one: "
                                  "folds for a corpus without a fixed test set, redraws for one with it")
    if folds is not None:
        _check_folds(int(folds), method, n_units)
    if redraws is not None:
        _check_redraws(int(redraws), method, _fixed_lists(split_cfg, presets))


def _check_folds(folds: int, method: str, n_units: int | None) -> None:
    if folds < 2:
        raise InputError("split.folds", f"{folds} fold(s): at least 2 are needed for every speaker to be tested "
                                        "by a model that never heard them")
    if method != "stratified":
        raise InputError("split.folds", f"folds deal the corpus's own speakers and need split.method stratified "
                                        f"(it is {method}); to keep a published test set, use split.redraws")
    if n_units is None:
        return
    if folds > n_units:
        raise InputError("split.folds", f"{folds} folds need at least {folds} speakers (split units); "
                                        f"the corpus has {n_units}")
    rest = n_units - ceil(n_units / folds)
    if rest < 2:
        raise InputError("split.folds", f"{folds} folds of {n_units} speakers (split units) test up to "
                                        f"{ceil(n_units / folds)} in a fold, leaving {rest} for its train and dev, "
                                        "which need at least 2")


def _check_redraws(redraws: int, method: str, fixed: tuple[str, dict[str, list[str]]] | None) -> None:
    if redraws < 2:
        raise InputError("split.redraws", f"{redraws} draw(s): draw 1 is the published split, so at least 2 "
                                          "are needed")
    if method == "stratified":
        raise InputError("split.redraws", "redraws keep a fixed test set, which split.method stratified has not; "
                                          "use split.method preset or lists, or split.folds")
    if fixed is None:
        return
    what, lists = fixed
    n_train, n_dev = (len(lists.get(p) or []) for p in ("train", "dev"))
    for part, n in (("train", n_train), ("dev", n_dev)):
        if n == 0:
            raise InputError("split.redraws", f"{what} has 0 {part} speakers (split units); every draw keeps its "
                                              f"counts (train {n_train}, dev {n_dev}), so {part} would be empty")
    possible = comb(n_train + n_dev, n_dev)
    if redraws > possible:
        raise InputError("split.redraws", f"{redraws} draws need {redraws} different train/dev splits; the "
                                          f"{n_train + n_dev} train+dev speakers (split units) of {what} "
                                          f"({n_train} train, {n_dev} dev) allow {possible}")


def count_units(config: dict, results: Path = Path("results")) -> int | None:
    """The corpus's split units known when the workflow loads, without running a job: the synthetic
    corpus's `n_speakers` (one speaker per group), else the groups of an ingested manifest, else None."""
    if config["corpus"]["adapter"] == "synthetic":
        return (config.get("synthetic") or {}).get("n_speakers")
    manifest = results / config["corpus"]["name"] / "ingest" / "manifest.csv"
    if manifest.is_file():
        return int(pd.read_csv(manifest, usecols=["group"], dtype=str)["group"].nunique())
    return None


def make_draw_split(manifest: pd.DataFrame, split_cfg: dict, draw: str, presets: dict | None) -> pd.DataFrame:
    """split.csv rows (recording, speaker, group, partition) of fold or redraw `draw` ("1".."N"),
    `attrs["notes"]` as make_split's plus a line saying which draw and the rule."""
    plan = draw_plan(split_cfg)
    if plan is None:
        raise InputError("split", "neither split.folds nor split.redraws is set: the corpus has one split")
    if draw not in plan.names:
        raise InputError(f"split.{plan.kind}", f"draw {draw!r} is not one of 1..{len(plan.names)}")
    n_units = int(manifest["group"].nunique())
    check_draws(split_cfg, n_units, None)
    seed = int(split_cfg.get("seed", 1))
    if plan.kind == "folds":
        return _fold_split(manifest, split_cfg, int(draw), len(plan.names), seed)
    published = make_split(manifest, split_cfg["method"], lists=split_cfg.get("lists"), presets=presets,
                           preset=split_cfg.get("preset"), seed=seed)
    present = {p: sorted(published.loc[published["partition"] == p, "group"].astype(str).unique()) for p in PARTITIONS}
    check_draws(split_cfg, n_units, {split_cfg.get("preset"): present})
    return _redraw_split(manifest, published, int(draw), len(plan.names), seed)


def _fold_split(manifest: pd.DataFrame, split_cfg: dict, fold: int, folds: int, seed: int) -> pd.DataFrame:
    """Fold `fold` of `folds`: its own groups tested, dev dealt from the others, train the rest."""
    fold_of = deal(manifest, {str(i): 1.0 for i in range(1, folds + 1)}, seed, where="split.folds")
    test = {group for group, name in fold_of.items() if name == str(fold)}
    others = manifest[~manifest["group"].isin(test)]
    proportions = split_cfg.get("proportions") or EQUAL_SHARES
    assigned = stratified(others, {"train": proportions["train"], "dev": proportions["dev"], "test": 0}, [seed, fold])
    assigned.update({group: "test" for group in test})
    n_dev = sum(p == "dev" for p in assigned.values())
    note = (f"speaker fold {fold} of {folds}: test = the fold's {len(test)} split unit(s) (folds dealt by gender and "
            f"age, split.seed {seed}); dev = {n_dev} dealt from the other {len(others['group'].unique())} at "
            f"split.proportions train:dev {proportions['train']}:{proportions['dev']}, seed ({seed}, {fold}); "
            "train = the rest")
    return split_rows(manifest, assigned, [note])


def _redraw_split(manifest: pd.DataFrame, published: pd.DataFrame, draw: int, draws: int, seed: int) -> pd.DataFrame:
    """Draw `draw` of `draws`: 1 the published split, else train/dev redrawn with the test kept."""
    notes = list(published.attrs.get("notes", []))
    assigned = dict(zip(published["group"].astype(str), published["partition"]))
    pool = sorted(g for g, p in assigned.items() if p != "test")
    n_dev = sum(assigned[g] == "dev" for g in pool)
    if draw == 1:
        return split_rows(manifest, assigned, notes + [f"training redraw 1 of {draws}: the published split"])
    strata = _strata(manifest[manifest["group"].astype(str).isin(pool)])
    seen = [frozenset(g for g in pool if assigned[g] == "dev")]
    for earlier in range(2, draw):
        seen.append(_redraw_dev(strata, n_dev, seed, earlier, seen)[0])
    dev, strata_kept = _redraw_dev(strata, n_dev, seed, draw, seen)
    assigned.update({g: "dev" if g in dev else "train" for g in pool})
    note = (f"training redraw {draw} of {draws}: test as published; train {len(pool) - n_dev} and dev {n_dev} "
            f"redrawn from the published {len(pool)} train+dev split units, stratified by gender and age, "
            f"seed ({seed}, {draw})")
    if dev in seen:
        note += "; equal to an earlier draw (no other found)"
        log.warning("%s", note)
    elif not strata_kept:
        note += "; not stratified: the stratified draws were all taken by earlier ones"
    return split_rows(manifest, assigned, notes + [note])


def _redraw_dev(strata: list[tuple[np.ndarray, np.ndarray]], n_dev: int, seed: int, draw: int,
                seen: list[frozenset]) -> tuple[frozenset, bool]:
    """(dev groups, stratified?) of redraw `draw`: a stratified sample, drawn again while it repeats a split in
    `seen`; where the stratified samples are all taken, one of the dev sets not taken yet (any, at random)."""
    rng = np.random.default_rng([seed, draw])
    for _ in range(REDRAW_TRIES):
        dev = _stratified_sample(strata, n_dev, rng)
        if dev not in seen:
            return dev, True
    pool = sorted(str(g) for ids, _ in strata for g in ids)
    if comb(len(pool), n_dev) <= ENUMERATE_UP_TO:
        unseen = [frozenset(c) for c in combinations(pool, n_dev) if frozenset(c) not in seen]
        if unseen:
            return unseen[int(rng.integers(len(unseen)))], False
    return dev, True


def _strata(manifest: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """(group ids, ages with unknown as inf) per gender, the largest gender first."""
    groups = _groups(manifest)
    return [(s["group"].astype(str).to_numpy(), s["age"].fillna(np.inf).to_numpy(dtype=float))
            for _, s in sorted(groups.groupby("gender"), key=lambda kv: (-len(kv[1]), kv[0]))]


def _stratified_sample(strata: list[tuple[np.ndarray, np.ndarray]], n: int, rng: np.random.Generator) -> frozenset:
    """n groups at random, stratified by gender (largest remainder, ties at random) and, within a
    gender, by age: its groups sorted by age are cut into as many consecutive blocks as it gives
    groups, and one group is taken at random from each block."""
    sizes = np.array([len(ids) for ids, _ in strata])
    exact = n * sizes / sizes.sum()
    counts = np.floor(exact).astype(int)
    remainder = exact - counts + rng.random(len(strata)) * 1e-9  # ties broken at random
    counts[np.argsort(-remainder)[: n - counts.sum()]] += 1
    chosen: list[str] = []
    for (ids, ages), k in zip(strata, counts):
        if k == 0:
            continue
        ordered = ids[np.lexsort((rng.permutation(len(ids)), ages))]
        chosen += [str(rng.choice(block)) for block in np.array_split(ordered, k)]
    return frozenset(chosen)
