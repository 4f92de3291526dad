"""Speaker-stratified splits: disjoint, balanced, deterministic, and explicit lists checked."""

import pandas as pd
import pytest

from emotrace.errors import InputError
from emotrace.splits import make_split


def _manifest(n=18):
    rows = []
    for i in range(n):
        rows.append(
            {"recording": f"R{i:02d}", "speaker": f"S{i:02d}", "group": f"S{i:02d}",
             "gender": "F" if i % 2 else "M", "age": 20 + 2 * i}
        )
    return pd.DataFrame(rows)


def test_stratified_is_disjoint_balanced_and_deterministic():
    m = _manifest()
    a = make_split(m, "stratified", {"train": 1, "dev": 1, "test": 1}, seed=3)
    b = make_split(m, "stratified", {"train": 1, "dev": 1, "test": 1}, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a.groupby("group")["partition"].nunique().max() == 1
    merged = a.merge(m[["recording", "gender", "age"]])
    counts = merged.groupby(["partition", "gender"]).size().unstack()
    assert (counts == 3).all().all()
    ages = merged.groupby("partition")["age"].mean()
    assert ages.max() - ages.min() <= 6  # youngest and oldest spread over partitions


def test_proportions_are_respected():
    a = make_split(_manifest(20), "stratified", {"train": 0.5, "dev": 0.25, "test": 0.25}, seed=0)
    assert a["partition"].value_counts().to_dict() == {"train": 10, "dev": 5, "test": 5}


def test_lists_and_unknown_speaker():
    m = _manifest(6)
    lists = {"train": ["S00", "S01"], "dev": ["S02", "S03"], "test": ["S04"]}
    s = make_split(m, "lists", lists=lists)
    assert set(s["recording"]) == {"R00", "R01", "R02", "R03", "R04"}
    with pytest.raises(InputError, match=r"split.lists.test.*P99"):
        make_split(m, "lists", lists={**lists, "test": ["P99"]})


def test_unknown_preset_names_the_key():
    with pytest.raises(InputError, match="split.preset"):
        make_split(_manifest(6), "preset", presets={"avec2016": {}}, preset="nope")


def test_preset_with_speakers_missing_keeps_the_rest_and_says_so(caplog):
    """A release holding part of a preset's speakers: present ones keep their partition, absent ones
    are logged and noted; an empty partition stops."""
    m = _manifest(6)
    preset = {"train": ["S00", "S01", "P90"], "dev": ["S02", "P91", "P92"], "test": ["S03", "S04"]}
    with caplog.at_level("WARNING"):
        s = make_split(m, "preset", presets={"paper": preset}, preset="paper")
    assert s.set_index("group")["partition"].to_dict() == {
        "S00": "train", "S01": "train", "S02": "dev", "S03": "test", "S04": "test"}
    assert s.attrs["notes"] == ["split preset paper: 3 group(s) not in the corpus, left out: train P90; dev P91, P92"]
    assert "P91, P92" in caplog.text and "S05" in caplog.text  # S05: in no partition
    with pytest.raises(InputError, match=r"split.preset\[paper\].*\['dev'\] are empty.*dev P91, P92\)"):
        make_split(m, "preset", presets={"paper": {**preset, "dev": ["P91", "P92"]}}, preset="paper")


@pytest.mark.parametrize("n, expected", [(3, {"train": 1, "dev": 1, "test": 1}),
                                         (4, {"train": 2, "dev": 1, "test": 1}),
                                         (5, {"train": 3, "dev": 1, "test": 1})])
def test_no_partition_with_a_share_is_left_empty(n, expected, caplog):
    """60/10/30 (Yang & Hirschberg's SEMAINE split) of a few groups: dev's share rounds up to one group."""
    with caplog.at_level("WARNING"):
        s = make_split(_manifest(n), "stratified", {"train": 0.6, "dev": 0.1, "test": 0.3}, seed=1)
    assert s["partition"].value_counts().to_dict() == expected
    # 3 groups: exact shares 1.8 / 0.3 / 0.9, largest remainders give 2 / 0 / 1; from 4 groups on dev's
    # remainder wins a group without help, and nothing is said
    assert ("dev's share (0.3 of 3 groups) rounds to 0 groups; rounded up to 1, taken from train" in caplog.text) \
        == (n == 3)
    assert ("rounded up" in caplog.text) == (n == 3)


def test_fewer_groups_than_partitions_names_proportions_groups_and_the_empty_partition():
    with pytest.raises(InputError, match=r"split.proportions.*2 group\(s\).*dev would be empty"):
        make_split(_manifest(2), "stratified", {"train": 0.6, "dev": 0.1, "test": 0.3}, seed=1)


@pytest.mark.parametrize("manifest, proportions, seed, expected", [
    ("tiny", {"train": 0.34, "dev": 0.33, "test": 0.33}, 1,
     {"train": ["S02", "S06"], "dev": ["S04", "S05"], "test": ["S01", "S03"]}),
    (18, {"train": 1, "dev": 1, "test": 1}, 3,
     {"train": ["S02", "S05", "S07", "S08", "S14", "S17"], "dev": ["S03", "S04", "S06", "S09", "S15", "S16"],
      "test": ["S00", "S01", "S10", "S11", "S12", "S13"]}),
    (7, {"train": 0.6, "dev": 0.1, "test": 0.3}, 5,
     {"train": ["S00", "S01", "S04", "S05"], "dev": ["S06"], "test": ["S02", "S03"]}),
])
def test_default_split_is_pinned(manifest, proportions, seed, expected):
    """The default stratified split as it was before the dealing was generalised to folds (emotrace.folds):
    existing configs keep their speakers' partitions. "tiny": tests/configs/tiny.yaml's 6 generated speakers."""
    if manifest == "tiny":
        from emotrace.synth.speakers import speakers

        m = speakers(6, 3).assign(group=lambda t: t["speaker"])
    else:
        m = _manifest(manifest)
    s = make_split(m, "stratified", proportions, seed=seed)
    assert s.groupby("partition")["group"].apply(sorted).to_dict() == expected
