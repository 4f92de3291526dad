"""Speaker folds and training redraws (emotrace.folds): every speaker tested once, test sets kept, bad input
refused naming the key and the count."""

from __future__ import annotations

import pandas as pd
import pytest

from emotrace.config_checks import check_config
from emotrace.errors import InputError
from emotrace.folds import DrawPlan, check_draws, count_units, draw_plan, make_draw_split
from emotrace.splits import make_split
from test_splits import _manifest

PROPORTIONS = {"train": 0.34, "dev": 0.33, "test": 0.33}
PRESET = {"train": ["S00", "S01", "S02", "S03", "S04", "S05", "P90"], "dev": ["S06", "S07", "S08", "S09"],
          "test": ["S10", "S11", "S12", "S13", "S14"]}


def folds_cfg(k: int, seed: int = 1, proportions: dict | None = None) -> dict:
    return {"method": "stratified", "folds": k, "seed": seed, "proportions": proportions or PROPORTIONS}


def redraws_cfg(r: int, seed: int = 1) -> dict:
    return {"method": "preset", "preset": "paper", "redraws": r, "seed": seed}


def partitions(split: pd.DataFrame) -> dict[str, list[str]]:
    return split.groupby("partition")["group"].apply(sorted).to_dict()


def test_draw_plan_names_the_draws():
    assert draw_plan({"method": "stratified"}) is None
    assert draw_plan({"folds": None, "redraws": None}) is None
    assert draw_plan(folds_cfg(3)) == DrawPlan("folds", ("1", "2", "3"))
    assert draw_plan(redraws_cfg(2)) == DrawPlan("redraws", ("1", "2"))


def test_every_speaker_is_tested_once_by_a_fold_that_never_heard_them():
    m = _manifest(17)
    tested: list[str] = []
    for k in "12345":
        s = make_draw_split(m, folds_cfg(5), k, None)
        assert s.groupby("group")["partition"].nunique().max() == 1  # no speaker in two partitions
        assert set(s["group"]) == set(m["group"])  # every speaker in the fold's experiment
        assert set(s["partition"]) == {"train", "dev", "test"}
        tested += s.loc[s["partition"] == "test", "group"].tolist()
        assert s.attrs["notes"][0].startswith(f"speaker fold {k} of 5: test = the fold's ")
    assert sorted(tested) == sorted(m["group"])  # each exactly once


def test_folds_keep_gender_and_age_balance():
    m = _manifest(20)  # 10 F, 10 M, ages 20..58
    tests = []
    for k in "1234":
        s = make_draw_split(m, folds_cfg(4), k, None).merge(m[["recording", "gender", "age"]])
        tests.append(s[s["partition"] == "test"])
    assert [len(t) for t in tests] == [5, 5, 5, 5]
    females = [int((t["gender"] == "F").sum()) for t in tests]
    assert max(females) - min(females) <= 1
    ages = [t["age"].mean() for t in tests]
    assert max(ages) - min(ages) <= 6  # the youngest and the oldest spread over the folds


def test_folds_are_deterministic_per_seed_and_dev_depends_on_seed():
    m = _manifest(17)
    for k in "123":
        pd.testing.assert_frame_equal(make_draw_split(m, folds_cfg(3), k, None),
                                      make_draw_split(m, folds_cfg(3), k, None))
    assert make_draw_split(m, folds_cfg(3, seed=1), "1", None).attrs["notes"] != \
        make_draw_split(m, folds_cfg(3, seed=2), "1", None).attrs["notes"]


def test_two_folds_work_when_proportions_allow():
    m = _manifest(4)
    seen = []
    for k in "12":
        s = make_draw_split(m, folds_cfg(2, proportions={"train": 0.6, "dev": 0.1, "test": 0.3}), k, None)
        assert s["partition"].value_counts().to_dict() == {"test": 2, "train": 1, "dev": 1}
        seen += s.loc[s["partition"] == "test", "group"].tolist()
    assert sorted(seen) == ["S00", "S01", "S02", "S03"]


def test_redraw_one_is_the_preset_split_with_a_note():
    m = _manifest(15)
    published = make_split(m, "preset", presets={"paper": PRESET}, preset="paper")
    first = make_draw_split(m, redraws_cfg(4), "1", {"paper": PRESET})
    pd.testing.assert_frame_equal(first, published)
    assert first.attrs["notes"] == published.attrs["notes"] + ["training redraw 1 of 4: the published split"]


def test_redraws_keep_the_test_set_and_the_counts_and_differ():
    m = _manifest(15)
    draws = [make_draw_split(m, redraws_cfg(4), r, {"paper": PRESET}) for r in "1234"]
    published = partitions(draws[0])
    devs = set()
    for r, s in enumerate(draws, start=1):
        parts = partitions(s)
        assert parts["test"] == published["test"]
        assert (len(parts["train"]), len(parts["dev"])) == (6, 4)  # P90 (absent) is not counted
        assert set(parts["train"]) | set(parts["dev"]) == set(published["train"]) | set(published["dev"])
        females = int(s[s["partition"] == "dev"].merge(m[["recording", "gender"]])["gender"].eq("F").sum())
        assert females == 2  # 5 of the 10 train+dev speakers are female: half of dev
        devs.add(tuple(parts["dev"]))
        assert "left out: train P90" in s.attrs["notes"][0]
    assert len(devs) == 4  # every draw a different training set
    assert draws[2].attrs["notes"][-1] == ("training redraw 3 of 4: test as published; train 6 and dev 4 redrawn "
                                           "from the published 10 train+dev split units, stratified by gender and "
                                           "age, seed (1, 3)")


def test_redraws_are_deterministic_per_seed():
    m = _manifest(15)
    a = make_draw_split(m, redraws_cfg(3), "2", {"paper": PRESET})
    pd.testing.assert_frame_equal(a, make_draw_split(m, redraws_cfg(3), "2", {"paper": PRESET}))
    others = {tuple(partitions(make_draw_split(m, redraws_cfg(3, seed), "2", {"paper": PRESET}))["dev"])
              for seed in range(2, 8)}
    assert len(others | {tuple(partitions(a)["dev"])}) > 1


def test_redraws_from_lists_take_every_possible_training_set():
    """3 train+dev speakers (2 M, 1 F), 1 in dev: 3 possible draws, all taken, none repeated; stratified by
    gender, dev is a man, so the third draw (the woman) says it is not stratified."""
    m = _manifest(5)
    cfg = {"method": "lists", "redraws": 3, "seed": 1,
           "lists": {"train": ["S00", "S01"], "dev": ["S02"], "test": ["S03", "S04"]}}
    devs = {tuple(partitions(make_draw_split(m, cfg, r, None))["dev"]) for r in "123"}
    assert devs == {("S00",), ("S01",), ("S02",)}
    assert make_draw_split(m, cfg, "3", None).attrs["notes"][-1].endswith(
        "; not stratified: the stratified draws were all taken by earlier ones")


@pytest.mark.parametrize("cfg, n_units, presets, message", [
    (folds_cfg(7), 5, None, r"^split.folds: 7 folds need at least 7 speakers \(split units\); the corpus has 5$"),
    (folds_cfg(1), 5, None, r"^split.folds: 1 fold\(s\): at least 2"),
    (folds_cfg(2), 3, None, r"^split.folds: 2 folds of 3 speakers \(split units\) test up to 2 in a fold, "
                            r"leaving 1 for its train and dev, which need at least 2"),
    ({**redraws_cfg(2), "folds": 3}, 5, None, r"^split: split.folds \(3\) and split.redraws \(2\) are both set"),
    ({"method": "preset", "preset": "paper", "folds": 3}, 15, None,
     r"^split.folds: .*need split.method stratified \(it is preset\); .*use split.redraws"),
    ({"method": "stratified", "redraws": 3}, 15, None, r"^split.redraws: redraws keep a fixed test set"),
    (redraws_cfg(1), 15, None, r"^split.redraws: 1 draw\(s\)"),
    (redraws_cfg(2), 15, {"paper": {**PRESET, "dev": []}}, r"^split.redraws: split.preset paper has 0 dev speakers "
     r"\(split units\); every draw keeps its counts \(train 7, dev 0\), so dev would be empty"),
    ({"method": "lists", "redraws": 4, "lists": {"train": ["S00", "S01"], "dev": ["S02"], "test": ["S03"]}}, 5, None,
     r"^split.redraws: 4 draws need 4 different train/dev splits; the 3 train\+dev speakers \(split units\) of "
     r"split.lists \(2 train, 1 dev\) allow 3$"),
])
def test_refusals_name_the_key_and_the_count(cfg, n_units, presets, message):
    with pytest.raises(InputError, match=message):
        check_draws(cfg, n_units, presets)


def test_good_draws_pass_and_unknown_counts_wait_for_the_job():
    check_draws(folds_cfg(5), 17, None)
    check_draws(folds_cfg(2), 4, None)
    check_draws(redraws_cfg(4), 15, {"paper": PRESET})
    check_draws(folds_cfg(50), None, None)  # the count is checked in the split job
    check_draws(redraws_cfg(400), 15, None)


def test_the_split_job_checks_the_real_counts():
    with pytest.raises(InputError, match=r"^split.folds: 7 folds need at least 7 speakers \(split units\); "
                                         r"the corpus has 5$"):
        make_draw_split(_manifest(5), folds_cfg(7), "1", None)
    tiny_dev = {"paper": {**PRESET, "dev": ["S06", "P91"]}}  # 7 present train+dev, 1 in dev: 7 draws possible
    make_draw_split(_manifest(15), redraws_cfg(7), "7", tiny_dev)
    with pytest.raises(InputError, match=r"^split.redraws: 8 draws need 8 .* of split.preset paper \(6 train, 1 dev\) "
                                         r"allow 7$"):
        make_draw_split(_manifest(15), redraws_cfg(8), "1", tiny_dev)
    with pytest.raises(InputError, match=r"^split.folds: draw '6' is not one of 1..5"):
        make_draw_split(_manifest(15), folds_cfg(5), "6", None)


def test_count_units_from_the_config_or_the_ingested_manifest(tmp_path):
    assert count_units({"corpus": {"name": "c", "adapter": "synthetic"}, "synthetic": {"n_speakers": 9}}) == 9
    config = {"corpus": {"name": "c", "adapter": "generic"}}
    assert count_units(config, tmp_path) is None
    (tmp_path / "c" / "ingest").mkdir(parents=True)
    pd.DataFrame({"recording": ["a", "b", "c"], "group": ["g1", "g1", "g2"]}).to_csv(
        tmp_path / "c" / "ingest" / "manifest.csv", index=False)
    assert count_units(config, tmp_path) == 2


def test_check_config_refuses_folds_at_load():
    config = {"corpus": {"name": "c", "adapter": "synthetic", "root": "results/corpora/c", "options": {}},
              "synthetic": {"n_speakers": 6}, "models": {}, "split": folds_cfg(7)}
    with pytest.raises(InputError, match=r"^split.folds: 7 folds need at least 7 speakers .* the corpus has 6$"):
        check_config(config)
    check_config({**config, "split": folds_cfg(3)})
