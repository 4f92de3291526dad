"""Group-stratified train/dev/test splits: no speaker (or conversation) in two partitions."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError

PARTITIONS = ("train", "dev", "test")
EQUAL_SHARES = {"train": 1, "dev": 1, "test": 1}  # proportions when none are given
log = logging.getLogger(__name__)


def _quota(n: int, proportions: dict[str, float], names: tuple[str, ...] = PARTITIONS,
           where: str = "split.proportions") -> dict[str, int]:
    """Largest-remainder allocation of n groups to the `names` (partitions, or folds); none with a share
    is left empty.

    A share that rounds to 0 groups is rounded up to 1, taken from the one whose count
    exceeds its exact share the most (said in the log). With fewer groups than names
    holding a share, no split can fill them all: an error names `where`, the number of
    groups and the one that would be empty.
    """
    total = sum(proportions[p] for p in names)
    exact = {p: n * proportions[p] / total for p in names}
    counts = {p: int(np.floor(v)) for p, v in exact.items()}
    for p in sorted(names, key=lambda p: exact[p] - counts[p], reverse=True)[: n - sum(counts.values())]:
        counts[p] += 1
    wanted = [p for p in names if proportions[p] > 0]
    for p in [p for p in wanted if counts[p] == 0]:
        if n < len(wanted):
            raise InputError(where,
                             f"{n} group(s) cannot fill the {len(wanted)} partitions with a share "
                             f"({', '.join(wanted)}): {p} would be empty; the corpus needs at least "
                             f"{len(wanted)} groups (the split unit: speaker, or what the adapter groups by)")
        donor = max((q for q in names if counts[q] > 1), key=lambda q: (counts[q] - exact[q], counts[q]))
        counts[p], counts[donor] = 1, counts[donor] - 1
        log.warning("%s: %s's share (%.3g of %d groups) rounds to 0 groups; rounded up to 1, "
                    "taken from %s (now %d)", where, p, exact[p], n, donor, counts[donor])
    return counts


def _groups(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per group with its (majority) gender and mean age."""
    g = manifest.groupby("group").agg(
        gender=("gender", lambda s: s.fillna("").astype(str).mode().iat[0] if len(s) else ""),
        age=("age", lambda s: pd.to_numeric(s, errors="coerce").mean()),
    )
    return g.reset_index()


def stratified(manifest: pd.DataFrame, proportions: dict[str, float], seed: int | Sequence[int]) -> dict[str, str]:
    """Assign groups to train/dev/test, balancing gender and age (`deal` with the partitions' shares)."""
    return deal(manifest, {p: proportions[p] for p in PARTITIONS}, seed)


def deal(manifest: pd.DataFrame, shares: dict[str, float], seed: int | Sequence[int],
         where: str = "split.proportions") -> dict[str, str]:
    """Deal groups to the named shares (partitions, or folds), balancing gender and age: {group: name}.

    Within each gender, groups are sorted by age (ties broken by the seed) and dealt
    to the name furthest below its share so far; among equally deserving names the
    one whose speakers are oldest so far takes the next (youngest remaining) speaker,
    so mean ages stay close. The counts per name are `_quota`'s; a share of 0 gets none.
    """
    names = tuple(shares)
    rng = np.random.default_rng(seed)
    groups = _groups(manifest)
    overall = _quota(len(groups), shares, names, where)
    groups["tiebreak"] = rng.permutation(len(groups))
    assigned: dict[str, str] = {}
    taken = {p: 0 for p in names}
    for _, stratum in sorted(groups.groupby("gender"), key=lambda kv: -len(kv[1])):
        stratum = stratum.sort_values(["age", "tiebreak"], na_position="last")
        dealt = {p: 0 for p in names}
        ages: dict[str, list[float]] = {p: [] for p in names}
        share = {p: shares[p] / sum(shares[q] for q in names) for p in names}
        order = {p: i for i, p in enumerate(rng.permutation(names))}
        fallback_age = float(stratum["age"].mean()) if stratum["age"].notna().any() else 0.0
        for _, row in stratum.iterrows():
            open_parts = [p for p in names if taken[p] < overall[p]]
            need = {p: round(share[p] * (sum(dealt.values()) + 1) - dealt[p], 9) for p in open_parts}
            best = max(
                open_parts,
                key=lambda p: (need[p], float(np.mean(ages[p])) if ages[p] else fallback_age, -order[p]),
            )
            assigned[row["group"]] = best
            dealt[best] += 1
            taken[best] += 1
            if pd.notna(row["age"]):
                ages[best].append(float(row["age"]))
    return assigned


def from_lists(
    manifest: pd.DataFrame, lists: dict[str, list[str]], where: str, absent: dict[str, list[str]] | None = None
) -> dict[str, str]:
    """Assign groups from explicit lists; a listed group absent from the corpus is an error.

    With `absent` (a dict filled in here, used for published presets), absent groups
    are collected per partition instead: a release holding only part of the
    speakers keeps the preset's assignment for those present.
    """
    known = set(manifest["group"].astype(str))
    assigned: dict[str, str] = {}
    for part in PARTITIONS:
        for group in lists.get(part, []) or []:
            if group not in known and absent is not None:
                absent.setdefault(part, []).append(group)
                continue
            if group not in known:
                raise InputError(f"{where}.{part}", f"{group!r} is not in the corpus (known: {sorted(known)[:10]}...)")
            if group in assigned:
                raise InputError(f"{where}.{part}", f"{group!r} is listed in both {assigned[group]} and {part}")
            assigned[group] = part
    unlisted = sorted(known - set(assigned))
    if unlisted:
        log.warning("groups in no partition, left out of the experiment: %s", unlisted)
    missing = [p for p in PARTITIONS if p not in assigned.values()]
    if missing:
        note = f" ({absent_note(absent)})" if absent else ""
        raise InputError(where, f"partitions {missing} are empty{note}")
    return assigned


def absent_note(absent: dict[str, list[str]]) -> str:
    """One line naming the preset's groups missing from the corpus, per partition."""
    return "not in the corpus, left out: " + "; ".join(
        f"{part} {', '.join(absent[part])}" for part in PARTITIONS if absent.get(part))


def make_split(
    manifest: pd.DataFrame,
    method: str,
    proportions: dict[str, float] | None = None,
    seed: int = 1,
    lists: dict[str, list[str]] | None = None,
    presets: dict[str, dict[str, list[str]]] | None = None,
    preset: str | None = None,
) -> pd.DataFrame:
    """split.csv rows (recording, speaker, group, partition) for one of the three methods.

    `attrs["notes"]` of the result lists what the tables should say about the split
    (a preset's speakers missing from the corpus).
    """
    notes: list[str] = []
    if method == "stratified":
        assigned = stratified(manifest, proportions or EQUAL_SHARES, seed)
    elif method == "lists":
        assigned = from_lists(manifest, lists or {}, where="split.lists")
    elif method == "preset":
        presets = presets or {}
        if preset not in presets:
            raise InputError("split.preset", f"unknown preset {preset!r}; this corpus offers {sorted(presets)}")
        absent: dict[str, list[str]] = {}
        assigned = from_lists(manifest, presets[preset], where=f"split.preset[{preset}]", absent=absent)
        if absent:
            note = f"split preset {preset}: {sum(map(len, absent.values()))} group(s) {absent_note(absent)}"
            log.warning("%s", note)
            notes.append(note)
    else:
        raise InputError("split.method", f"unknown method {method!r}; valid: ['lists', 'preset', 'stratified']")
    return split_rows(manifest, assigned, notes)


def split_rows(manifest: pd.DataFrame, assigned: dict[str, str], notes: list[str]) -> pd.DataFrame:
    """split.csv rows of the recordings whose group is assigned, sorted, with the notes in `attrs`."""
    rows = manifest[["recording", "speaker", "group"]].copy()
    rows["partition"] = rows["group"].astype(str).map(assigned)
    rows = rows.dropna(subset=["partition"]).sort_values(["partition", "recording"]).reset_index(drop=True)
    rows.attrs["notes"] = notes
    return rows
