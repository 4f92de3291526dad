"""Corpus adapters on tiny generated corpora in each on-disk format, and their bad-input errors."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotrace.corpora import ADAPTERS, get_adapter
from emotrace.corpora.base import LABEL_COLUMNS, MANIFEST_COLUMNS, RATER_COLUMNS
from emotrace.corpora.labels import frame_count
from emotrace.errors import InputError

_spec = importlib.util.spec_from_file_location("make_corpora", Path(__file__).parent / "fixtures" / "make_corpora.py")
make_corpora = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_corpora)

RECOLA_OPTIONS = {"speaker_map": "instance_speakers.csv", "metadata": "speaker_metadata.csv"}

# docs/references.md §10.2-10.3, copied by hand: the adapters' presets must equal these lists.
AVEC2016 = {
    "train": "P16 21 23 25 37 39 41 46 56",
    "dev": "P19 26 28 30 34 42 45 64 65",
    "test": "P13 20 32 38 47 49 53 59 63",
}
TRIGEORGIS2016 = {
    "train": "P15 16 17 18 21 23 25 37 39 41 46 50 51 55 56 60",
    "dev": "P14 19 24 26 28 30 34 40 42 43 44 45 52 64 65",
    "test": "P13 20 22 32 38 47 48 49 53 54 57 58 59 62 63",
}


def p_ids(text: str) -> list[str]:
    return ["P" + x.lstrip("P") for x in text.split()]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    """One corpus per format, written once per module."""
    base = tmp_path_factory.mktemp("corpora")
    return {
        "generic": make_corpora.write_generic(base / "generic"),
        "synthetic": make_corpora.write_synthetic(base / "synthetic"),
        "recola_avec2016": make_corpora.write_recola_avec2016(base / "recola_avec2016"),
        "recola_avec2016_labelled": make_corpora.write_recola_avec2016(base / "recola_avec2016_labelled",
                                                                      test_labels=True),
        "recola_full": make_corpora.write_recola_full(base / "recola_full"),
        "semaine": make_corpora.write_semaine(base / "semaine", seconds=24.0),
    }


@pytest.fixture
def corpus(pristine, tmp_path):
    """Copy a pristine corpus into the test's folder so that the test may damage it."""
    def copy(fmt: str) -> Path:
        return Path(shutil.copytree(pristine[fmt], tmp_path / fmt))
    return copy


def raises_naming(fn, *needles: str) -> str:
    """Call fn, expect InputError whose message contains every needle; return the message."""
    with pytest.raises(InputError) as info:
        fn()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def check_label_frame(labels: pd.DataFrame, manifest: pd.DataFrame, dimensions: list[str], step=0.04):
    """Tidy columns, frames 0..n-1 covering each recording, times frame*step, no NaN."""
    assert list(labels.columns) == LABEL_COLUMNS
    assert not labels.isna().any().any()
    assert set(labels["dimension"]) == set(dimensions)
    assert set(labels["recording"]) == set(manifest["recording"])
    for rec in manifest.itertuples(index=False):
        for dim in dimensions:
            sub = labels[(labels.recording == rec.recording) & (labels.dimension == dim)]
            n = int(np.floor(rec.duration / step + 1e-6)) + 1
            assert sub["frame"].tolist() == list(range(n))
            np.testing.assert_allclose(sub["time"], np.arange(n) * step, atol=1e-9)


# --------------------------------------------------------------------------- all adapters

def test_every_adapter_is_registered():
    assert {"generic", "synthetic", "recola_avec2016", "recola_full", "semaine"} <= set(ADAPTERS)


def test_frame_count_covers_the_recording():
    assert frame_count(300.0, 0.04) == 7501  # AVEC gold standard: 0.00 ... 300.00 s
    assert frame_count(2.5, 0.04) == 63
    assert frame_count(0.0, 0.04) == 1


@pytest.mark.parametrize("name", ["generic", "recola_full", "semaine"])
def test_unknown_option_and_missing_root(name, pristine, tmp_path):
    raises_naming(lambda: get_adapter(name, pristine[name], {"pauze": 2}), "corpus.options.pauze")
    raises_naming(lambda: get_adapter(name, tmp_path / "nowhere"), "nowhere")


# --------------------------------------------------------------------------- generic

def test_generic_manifest(pristine):
    root = pristine["generic"]
    m = get_adapter("generic", root).manifest()
    assert list(m.columns) == MANIFEST_COLUMNS
    assert len(m) == 7 and m["recording"].is_unique
    for rec in m.itertuples(index=False):
        info = sf.info(rec.audio_path)
        assert Path(rec.audio_path).is_absolute()
        assert info.channels == 2 and rec.sample_rate == 44100 == info.samplerate
        assert rec.group == rec.speaker
    whole = m.set_index("recording").loc["S01_r1"]
    assert whole.offset == 0 and whole.duration == pytest.approx(sf.info(whole.audio_path).duration)
    assert whole.gender == "M" and whole.age == 23
    b = m.set_index("recording").loc["S06_b"]
    assert (b.offset, b.duration) == (12.0, 12.0)


def test_generic_labels_resampled_to_40ms(pristine):
    root = pristine["generic"]
    adapter = get_adapter("generic", root)
    labels = adapter.labels(["arousal", "valence"], 0.04)
    check_label_frame(labels, adapter.manifest(), ["arousal", "valence"])
    src = pd.read_csv(root / "labels" / "valence" / "S02_r1.csv")  # 0.1 s step
    got = labels[(labels.recording == "S02_r1") & (labels.dimension == "valence")].set_index("frame")["value"]
    assert got[0] == pytest.approx(src.value[0])
    assert got[5] == pytest.approx(src.value[2])  # 0.20 s lies on both grids
    assert got[3] == pytest.approx(0.8 * src.value[1] + 0.2 * src.value[2])  # 0.12 s = 0.1 + 0.2 * 0.1


def test_generic_linear_labels_and_held_edge(corpus):
    root = corpus("generic")
    duration = sf.info(str(root / "audio" / "S01.wav")).duration
    times = np.arange(0.0, duration - 0.5, 0.25)  # ends within the 1 s tolerance
    pd.DataFrame({"time": times, "value": 0.5 - 0.02 * times}).to_csv(
        root / "labels" / "arousal" / "S01_r1.csv", index=False)
    labels = get_adapter("generic", root).labels(["arousal"])
    got = labels[labels.recording == "S01_r1"]
    expect = 0.5 - 0.02 * np.minimum(got["time"].to_numpy(), times[-1])
    np.testing.assert_allclose(got["value"], expect, atol=1e-12)


def test_generic_ignores_stray_files_with_a_warning(corpus, caplog):
    root = corpus("generic")
    (root / "labels" / "arousal" / "notes" / "x").mkdir(parents=True)
    (root / "labels" / "arousal" / "notes" / "x" / "readme.txt").write_text("x")
    with caplog.at_level(logging.WARNING):
        get_adapter("generic", root).labels(["arousal"])
    assert "readme.txt" in caplog.text


def test_generic_errors(corpus):
    root = corpus("generic")
    labels = root / "labels" / "arousal"
    raises_naming(lambda: get_adapter("generic", root).labels(["dominance"]), "dominance", "not available")
    (labels / "S03_r1.csv").rename(labels / "S99_r1.csv")
    raises_naming(lambda: get_adapter("generic", root).labels(["arousal"]),
                  "audio without labels: S03_r1", "labels without audio: S99_r1")
    (labels / "S99_r1.csv").rename(labels / "S03_r1.csv")

    text = (labels / "S02_r1.csv").read_text().splitlines()
    text[6] = "0.50,nan"
    (labels / "S02_r1.csv").write_text("\n".join(text) + "\n")
    raises_naming(lambda: get_adapter("generic", root).labels(["arousal"]), "S02_r1.csv:7", "NaN")

    valence = root / "labels" / "valence" / "S04_r1.csv"
    src = pd.read_csv(valence)
    src[src.time < src.time.max() - 1.5].to_csv(valence, index=False)
    raises_naming(lambda: get_adapter("generic", root).labels(["valence"]), "S04_r1.csv", "shorter")


def test_generic_metadata_errors(corpus):
    root = corpus("generic")
    meta = (root / "metadata.csv").read_text().splitlines()
    (root / "metadata.csv").write_text("\n".join(meta[:3] + [meta[3].replace("audio/S03.wav", "audio/none.wav")]))
    raises_naming(lambda: get_adapter("generic", root).manifest(), "metadata.csv:4", "none.wav")
    (root / "metadata.csv").write_text("\n".join(meta[:2] + [meta[1]]))
    raises_naming(lambda: get_adapter("generic", root).manifest(), "metadata.csv:3", "already listed")
    (root / "metadata.csv").write_text("recording,audio_path\nx,audio/S01.wav\n")
    raises_naming(lambda: get_adapter("generic", root).manifest(), "metadata.csv", "speaker")
    shutil.rmtree(root / "labels")
    (root / "metadata.csv").write_text("\n".join(meta))
    raises_naming(lambda: get_adapter("generic", root).labels(["arousal"]), "labels", "does not exist")


# --------------------------------------------------------------------------- synthetic

def test_synthetic_reads_the_generated_layout(pristine):
    root = pristine["synthetic"]
    adapter = get_adapter("synthetic", root)
    m = adapter.manifest()
    assert len(m) == 6 and set(m["sample_rate"]) == {22050}
    assert (m["group"] == m["speaker"]).all()
    labels = adapter.labels(["arousal", "valence"])
    check_label_frame(labels, m, ["arousal", "valence"])
    gold = pd.read_csv(root / "labels" / "arousal" / "spk03_rec01.csv")
    got = labels[(labels.recording == "spk03_rec01") & (labels.dimension == "arousal")]
    n = min(len(gold), len(got))
    np.testing.assert_allclose(got["value"].to_numpy()[:n], gold["value"].to_numpy()[:n], atol=1e-9)


def test_synthetic_rater_traces_on_the_gold_grid(pristine, tmp_path):
    """raters/{dimension}/{recording}.csv (time, one column per rater) -> tidy traces on the labels' frames."""
    adapter = get_adapter("synthetic", pristine["synthetic"])
    raters = adapter.rater_labels(["arousal"], 0.04)
    labels = adapter.labels(["arousal"])
    assert list(raters.columns) == RATER_COLUMNS and set(raters["rater"]) == {"R1", "R2", "R3"}
    one = raters[(raters.recording == "spk03_rec01") & (raters.rater == "R2")]
    gold = labels[labels.recording == "spk03_rec01"]
    assert one["frame"].tolist() == gold["frame"].tolist()
    written = pd.read_csv(pristine["synthetic"] / "raters" / "arousal" / "spk03_rec01.csv")["R2"].to_numpy()
    n = min(len(written), len(one))
    np.testing.assert_allclose(one["value"].to_numpy()[:n], written[:n], atol=1e-6)
    generic = shutil.copytree(pristine["synthetic"], tmp_path / "no_raters", ignore=shutil.ignore_patterns("raters"))
    assert get_adapter("generic", generic).rater_labels(["arousal"], 0.04) is None


# --------------------------------------------------------------------------- RECOLA AVEC 2016

def read_arff_values(path: Path) -> np.ndarray:
    rows = path.read_text().split("@data")[1].split()
    return np.array([float(r.split(",")[2]) for r in rows])


def test_avec2016_manifest_and_gold(pristine):
    root = pristine["recola_avec2016_labelled"]
    adapter = get_adapter("recola_avec2016", root, RECOLA_OPTIONS)
    m = adapter.manifest()
    assert list(m.columns) == MANIFEST_COLUMNS
    assert m.set_index("recording")["speaker"].to_dict() == {
        "train_1": "P16", "train_2": "P21", "dev_1": "P19", "dev_2": "P26", "test_1": "P13", "test_2": "P20"}
    assert set(m["sample_rate"]) == {44100} and sf.info(m["audio_path"][0]).channels == 2
    assert m.set_index("speaker").loc["P21", "gender"] == "F"
    labels = adapter.labels(["arousal", "valence"])
    check_label_frame(labels, m, ["arousal", "valence"])
    assert (labels.groupby(["recording", "dimension"]).size() == 501).all()
    got = labels[(labels.recording == "dev_2") & (labels.dimension == "valence")]["value"].to_numpy()
    np.testing.assert_allclose(got, read_arff_values(root / "ratings_gold_standard/valence/dev_2.arff"), atol=1e-12)
    raters = pd.read_csv(root / "ratings_individual/valence/dev_2.csv", sep=";")
    np.testing.assert_allclose(got, raters.iloc[:, 1:].mean(axis=1), atol=1e-6)

    from_raters = get_adapter("recola_avec2016", root, {**RECOLA_OPTIONS, "gold": "raters"}).labels(["valence"])
    np.testing.assert_allclose(from_raters[from_raters.recording == "dev_2"]["value"], got, atol=1e-6)


def test_avec2016_presets(pristine):
    root = pristine["recola_avec2016_labelled"]
    adapter = get_adapter("recola_avec2016", root, RECOLA_OPTIONS)
    presets = adapter.preset_splits()
    assert presets["avec2016"] == {k: p_ids(v) for k, v in AVEC2016.items()}
    assert presets["release"] == {"train": ["P16", "P21"], "dev": ["P19", "P26"], "test": ["P13", "P20"]}
    # The release ships no instance -> speaker map: `avec2016` is then the partition of the file names.
    plain = get_adapter("recola_avec2016", root).preset_splits()
    by_name = {"train": ["train_1", "train_2"], "dev": ["dev_1", "dev_2"], "test": ["test_1", "test_2"]}
    assert plain["avec2016"] == plain["release"] == by_name
    public = get_adapter("recola_avec2016", pristine["recola_avec2016"]).preset_splits()["avec2016"]
    assert public == {**by_name, "test": []}


def test_avec2016_public_release_skips_unlabelled_test(corpus, caplog):
    root = corpus("recola_avec2016")
    assert sorted(p.name for p in (root / "recordings_audio").iterdir())[-1] == "train_2.wav"
    assert not list(root.glob("ratings_*/*/test_*"))
    assert b"\r\n" in (root / "ratings_gold_standard" / "arousal" / "dev_1.arff").read_bytes()
    with caplog.at_level(logging.INFO):
        m = get_adapter("recola_avec2016", root).manifest()
    assert sorted(m["recording"]) == ["dev_1", "dev_2", "train_1", "train_2"]
    assert "test_1" in caplog.text and "test_2" in caplog.text and "skipped" in caplog.text


def _edit_line(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_avec2016_arff_errors(corpus):
    root = corpus("recola_avec2016")
    arff = root / "ratings_gold_standard" / "arousal" / "train_1.arff"
    original = arff.read_text()
    labels = lambda: get_adapter("recola_avec2016", root).labels(["arousal"])  # noqa: E731

    _edit_line(arff, 4, "@attribute frameIndex numeric")
    raises_naming(labels, "train_1.arff:4", "frameIndex")
    arff.write_text(original.replace("@data", "@attribute Extra numeric\n@data"))
    raises_naming(labels, "train_1.arff:7", "Extra")
    arff.write_text(original.replace("GOLDSTANDARD", "RATINGS"))
    raises_naming(labels, "train_1.arff:1", "@relation")
    arff.write_text(original)
    _edit_line(arff, 12, "train_1,0.16")
    raises_naming(labels, "train_1.arff:12", "3 comma-separated")
    _edit_line(arff, 12, "train_1,0.16,?")
    raises_naming(labels, "train_1.arff:12")
    arff.write_text(original.replace("train_1,0.08,", "train_2,0.08,"))
    raises_naming(labels, "train_1.arff:11", "train_2")
    arff.write_text(original)
    rows = original.splitlines()
    arff.write_text("\n".join(rows[: 8 + 200]) + "\n")  # 8 s of 20
    raises_naming(labels, "ratings_individual/arousal/train_1.csv", "501 rows", "200")
    (root / "ratings_individual" / "arousal" / "train_1.csv").unlink()  # rater files are optional
    raises_naming(labels, "train_1.arff", "shorter")


def test_avec2016_layout_errors(corpus, caplog):
    root = corpus("recola_avec2016")
    adapter = lambda: get_adapter("recola_avec2016", root)  # noqa: E731

    ratings = root / "ratings_individual" / "valence" / "dev_1.csv"
    ratings.write_text("\n".join(ratings.read_text().splitlines()[:-3]) + "\n")
    raises_naming(lambda: adapter().labels(["valence"]), "dev_1.csv", "rows")
    raises_naming(lambda: adapter().labels(["dominance"]), "dominance", "not available")

    (root / "ratings_gold_standard" / "arousal" / "dev_2.arff").unlink()
    raises_naming(lambda: adapter().labels(["arousal"]), "audio without labels: dev_2")
    (root / "recordings_audio" / "train_2.wav").unlink()
    raises_naming(lambda: adapter().manifest(), "labels without audio: train_2")

    (root / "recordings_audio" / "readme.txt").write_text("AVEC 2016")
    (root / "recordings_audio" / "Train_9.wav").write_bytes(b"")
    raises_naming(lambda: adapter().manifest(), "Train_9.wav", "layout")
    (root / "recordings_audio" / "Train_9.wav").unlink()
    shutil.copy(root / "recordings_audio" / "train_1.wav", root / "recordings_audio" / "train_2.wav")
    with caplog.at_level(logging.WARNING):
        adapter().manifest()
    assert "readme.txt" in caplog.text

    (root / "instance_speakers.csv").write_text("instance,speaker\ntrain_1,P16\n")
    raises_naming(lambda: get_adapter("recola_avec2016", root, RECOLA_OPTIONS).manifest(),
                  "instance_speakers.csv", "dev_1")
    shutil.rmtree(root / "ratings_gold_standard")
    raises_naming(lambda: adapter().manifest(), "ratings_gold_standard", "does not exist")


# --------------------------------------------------------------------------- RECOLA full

FULL_RATINGS = Path("RECOLA-Annotation") / "emotional_behaviour"


def test_recola_full_manifest_labels_presets(pristine):
    root = pristine["recola_full"]
    adapter = get_adapter("recola_full", root, {"metadata": "speaker_metadata.csv"})
    m = adapter.manifest()
    assert sorted(m["recording"]) == ["P13", "P16", "P19", "P20", "P21", "P26"]
    assert (m["recording"] == m["speaker"]).all() and (m["group"] == m["speaker"]).all()
    assert set(m["sample_rate"]) == {44100}
    labels = adapter.labels(["arousal", "valence"])
    check_label_frame(labels, m, ["arousal", "valence"])
    raw = pd.read_csv(root / FULL_RATINGS / "arousal" / "P20.csv", sep=";")
    assert list(raw.columns)[1] == "FM1 " and list(raw.columns)[-1] == "FF3"  # the quirk is in the fixture
    assert b"\r\n" in (root / FULL_RATINGS / "arousal" / "P20.csv").read_bytes()
    got = labels[(labels.recording == "P20") & (labels.dimension == "arousal")]["value"].to_numpy()
    np.testing.assert_allclose(got, raw.iloc[:, 1:].mean(axis=1), atol=1e-12)
    # Same speaker, same data in both RECOLA fixtures: the AVEC gold of train_1 (P16) is P16's rater mean.
    avec = read_arff_values(pristine["recola_avec2016"] / "ratings_gold_standard/arousal/train_1.arff")
    np.testing.assert_allclose(labels[(labels.recording == "P16") & (labels.dimension == "arousal")]["value"],
                               avec, atol=1e-6)

    presets = adapter.preset_splits()
    assert presets["trigeorgis2016"] == {k: p_ids(v) for k, v in TRIGEORGIS2016.items()}
    assert presets["avec2016"] == {k: p_ids(v) for k, v in AVEC2016.items()}
    groups = sum(presets["trigeorgis2016"].values(), [])
    assert len(groups) == len(set(groups)) == 46
    assert presets["public23"] == {"train": p_ids(AVEC2016["train"]), "dev": p_ids(AVEC2016["dev"]),
                                   "test": ["P13", "P20"]}


@pytest.mark.parametrize("layout", ["project", "group"])
def test_recola_full_detects_the_known_layouts(layout, tmp_path, caplog):
    root = make_corpora.write_recola_full(tmp_path / layout, layout=layout, speakers=["P16", "P19"], seconds=4.0)
    with caplog.at_level(logging.INFO):
        adapter = get_adapter("recola_full", root)
        assert sorted(adapter.manifest()["recording"]) == ["P16", "P19"]
    assert f"layout {layout!r}" in caplog.text
    assert len(adapter.labels(["arousal"])) == 2 * 101


def test_recola_full_layout_options_and_no_layout(tmp_path, caplog):
    root = make_corpora.write_recola_full(tmp_path / "c", layout="project", speakers=["P16"], seconds=4.0)
    (root / "audio").rename(root / "wav")
    raises_naming(lambda: get_adapter("recola_full", root).manifest(), "no known RECOLA layout",
                  "RECOLA-Audio-recordings/ + RECOLA-Annotation/emotional_behaviour/", "audio_dir")
    with caplog.at_level(logging.INFO):
        m = get_adapter("recola_full", root, {"audio_dir": "wav", "labels_dir": "labels"}).manifest()
    assert list(m["recording"]) == ["P16"] and "RECOLA options" in caplog.text
    assert list(get_adapter("recola_full", root, {"audio_dir": "wav"}).manifest()["recording"]) == ["P16"]


def test_recola_full_300_s_has_7501_frames(tmp_path):
    """A whole RECOLA recording: 7 501 rating rows (0.00 ... 300.00 s) give 7 501 frames."""
    root = make_corpora.write_recola_full(tmp_path / "long", speakers=["P16"], seconds=300.0, sample_rate=8000,
                                          channels=1)
    ratings = root / "RECOLA-Annotation/emotional_behaviour/valence/P16.csv"
    assert len(ratings.read_text().splitlines()) == 1 + 7501
    adapter = get_adapter("recola_full", root)
    labels = adapter.labels(["valence"])
    assert len(labels) == 7501 and labels["time"].iloc[-1] == pytest.approx(300.0)
    raw = pd.read_csv(ratings, sep=";")
    np.testing.assert_allclose(labels["value"], raw.iloc[:, 1:].mean(axis=1), atol=1e-12)


def test_recola_rater_labels_are_the_individual_columns(pristine):
    """rater_labels(): each rater's column on the gold grid, rater names without trailing spaces."""
    root = pristine["recola_full"]
    adapter = get_adapter("recola_full", root)
    raters = adapter.rater_labels(["arousal", "valence"], 0.04)
    gold = adapter.labels(["arousal", "valence"], 0.04)
    assert list(raters.columns) == RATER_COLUMNS
    assert sorted(raters["rater"].unique()) == ["FF1", "FF2", "FF3", "FM1", "FM2", "FM3"]
    raw = pd.read_csv(root / FULL_RATINGS / "valence" / "P21.csv", sep=";")
    got = raters[(raters.recording == "P21") & (raters.dimension == "valence") & (raters.rater == "FM1")]
    np.testing.assert_allclose(got["value"], raw["FM1 "], atol=1e-12)
    mean = raters.groupby(["recording", "dimension", "frame"])["value"].mean().reset_index()
    merged = gold.merge(mean, on=["recording", "dimension", "frame"], suffixes=("", "_raters"))
    assert len(merged) == len(gold)
    np.testing.assert_allclose(merged["value"], merged["value_raters"], atol=1e-12)

    avec = get_adapter("recola_avec2016", pristine["recola_avec2016"])
    raters = avec.rater_labels(["arousal"], 0.04)
    assert set(raters["recording"]) == {"train_1", "train_2", "dev_1", "dev_2"}
    assert (raters.groupby(["recording", "rater"]).size() == 501).all()
    raw = pd.read_csv(pristine["recola_avec2016"] / "ratings_individual/arousal/dev_1.csv", sep=";")  # CRLF
    np.testing.assert_allclose(raters[(raters.recording == "dev_1") & (raters.rater == "FF3")]["value"],
                               raw["FF3"], atol=1e-12)


def test_avec2016_without_individual_ratings_has_no_rater_labels(corpus):
    root = corpus("recola_avec2016")
    shutil.rmtree(root / "ratings_individual")
    assert get_adapter("recola_avec2016", root).rater_labels(["arousal"], 0.04) is None


def test_recola_full_errors(corpus):
    root = corpus("recola_full")
    labels = lambda dims=("arousal",): get_adapter("recola_full", root).labels(list(dims))  # noqa: E731
    path = root / FULL_RATINGS / "arousal" / "P19.csv"
    original = path.read_text()
    path.write_text(original.replace(";", ","))
    raises_naming(labels, "P19.csv", "';'")
    path.write_text(original.replace("0.00;", "0.00;nan;", 1).replace("time;", "time;FX ;", 1))
    raises_naming(labels, "P19.csv:2", "NaN")
    path.write_text(original)
    _edit_line(path, 3, "0.04;0.1;0.1;1.7;0.1;0.1;0.1")
    raises_naming(labels, "P19.csv:3", "outside")
    path.write_text(original)
    (root / FULL_RATINGS / "arousal" / "P13.csv").unlink()
    raises_naming(labels, "audio without labels: P13")
    raises_naming(lambda: labels(["valence", "dominance"]), "dominance")


# --------------------------------------------------------------------------- SEMAINE

WORDS = """---recording 2009.01.02.14.53.49 user turn 1---
1000 1400 HELLO
1500 2600 THERE
.
---recording 2009.01.02.14.53.49 user turn 2---
4000 4300 OK
6000 6500 I
7200 9020 SEE
.
"""
USER_WORDS_2 = "wordLevel_alignedTranscript_01.1Poppy_user"


def constructed_session(root: Path) -> list[np.ndarray]:
    """Session 2 with known turns and three linear raters for A and V; returns the raters' (a, b)."""
    folder = root / "Sessions" / "2"
    (folder / USER_WORDS_2).write_text(WORDS)
    for path in folder.glob("R*TUC*.txt"):
        path.unlink()
    times = np.round(np.arange(0, 24.0 + 1e-9, 0.02), 2)
    coefs = [np.array([0.1, 0.01]), np.array([-0.3, 0.02]), np.array([0.5, -0.03])]
    for r, (a, b) in enumerate(coefs, start=1):
        for dim, sign in (("A", 1), ("V", -1)):
            values = sign * (a + b * times)
            (folder / f"R{r}S1TUCPoD{dim}.txt").write_text("".join(f"{t:.2f} {v:.6f}\n" for t, v in zip(times, values)))
    return coefs


def test_semaine_manifest_turns_and_offsets(corpus, caplog):
    root = corpus("semaine")
    constructed_session(root)
    with caplog.at_level(logging.INFO):
        m = get_adapter("semaine", root, {"metadata": "speaker_metadata.csv", "group_by": "session"}).manifest()
    assert list(m.columns) == MANIFEST_COLUMNS
    s2 = m[m.group == "2"].set_index("recording")
    # The corpus's own turns: block 1 1.0-2.6 s, block 2 4.0-9.02 s (pauses inside a block kept).
    assert list(s2.index) == ["2_t01", "2_t02"]
    np.testing.assert_allclose(s2["offset"], [1.0, 4.0])
    np.testing.assert_allclose(s2["duration"], [1.6, 5.02])
    assert set(s2["speaker"]) == {"U01"} and set(s2["gender"]) == {"F"}
    info = sf.info(s2["audio_path"].iloc[0])
    assert set(m["sample_rate"]) == {48000} and info.channels == 1 and info.subtype == "PCM_24"
    assert all("User HeadMounted" in p for p in m["audio_path"])
    assert set(m["group"]) == {"2", "3", "8", "9", "14", "20", "26"}
    assert "Operator HeadMounted" in caplog.text and "dropped" in caplog.text
    # Default split unit: the recording (one user, sessions with the four characters).
    by_recording = get_adapter("semaine", root).manifest()
    assert by_recording.groupby("group")["recording"].apply(lambda r: sorted({x.split("_")[0] for x in r})
                                                             ).to_dict() == {"1": ["2", "3"], "2": ["8", "9"],
                                                                             "3": ["14"], "4": ["20"], "5": ["26"]}

    # Re-cutting by pauses (today's behaviour, as an option).
    cut = get_adapter("semaine", root, {"turns": "pause", "group_by": "session"}).manifest()
    s2 = cut[cut.group == "2"].set_index("recording")
    # 1.0-2.6 s (0.1 s pause joins), 4.0-4.3 s dropped (< 1 s), 6.0-9.02 s (0.7 s pause joins)
    assert list(s2.index) == ["2_t01", "2_t03"]
    np.testing.assert_allclose(s2["offset"], [1.0, 6.0])
    np.testing.assert_allclose(s2["duration"], [1.6, 3.02])
    short = get_adapter("semaine", root, {"turns": "pause", "pause": 0.5, "group_by": "user"}).manifest()
    s2 = short[short.recording.str.startswith("2_")].set_index("recording")
    assert list(s2.index) == ["2_t01", "2_t04"]  # 6.0-6.5 s now a turn of its own, dropped
    np.testing.assert_allclose(s2.loc["2_t04", ["offset", "duration"]].astype(float), [7.2, 1.82])
    assert set(short["group"]) == {"U01", "U02", "U03", "U04", "U05"}
    raises_naming(lambda: get_adapter("semaine", root, {"turns": "words"}), "corpus.options.turns", "pause")


def test_semaine_release_quirks(pristine, caplog):
    """Extension-less transcripts with `.` lines, CRLF, the name variant, a stray file, unequal raters."""
    root = pristine["semaine"]
    s3 = root / "Sessions" / "3"
    assert (s3 / "wordLevel_alignedTranscript_01.2Spike_user").is_file()
    assert b"\r\n.\r\n" in (s3 / "wordLevel_alignedTranscript_01.2Spike_user").read_bytes()
    with caplog.at_level(logging.INFO):
        adapter = get_adapter("semaine", root)
        m = adapter.manifest()
        labels = adapter.labels(["arousal"])
    assert "R1S1TUCPoDA_old.txt" in caplog.text  # listed as ignored
    # Session 3's rater 1 stops 5 s early: the turns after it are dropped, naming the trace.
    assert "R1S1TUCSpD" in caplog.text and "the span every rater covers" in caplog.text
    last = max(float(t.split()[0]) for t in (s3 / "R1S1TUCSpDA.txt").read_text().splitlines())
    s3_turns = m[m.recording.str.startswith("3_")]
    assert (s3_turns["offset"] + s3_turns["duration"] <= last + 0.1).all()
    blocks = (s3 / "wordLevel_alignedTranscript_01.2Spike_user").read_text().count("---recording")
    assert len(s3_turns) < blocks - 1  # beyond the short turn, at least one turn lost to the short trace
    # A2R1... (the [AR]/[RS] name variant) is read as rater 2.
    raters = adapter.rater_labels(["arousal"])
    assert sorted(raters[raters.recording == s3_turns["recording"].iloc[0]]["rater"].unique()) == \
        ["R1", "R2", "R3", "R4", "R5", "R6", "R7"]
    check_label_frame(labels, m, ["arousal"])


def test_semaine_labels_average_resampled_raters(corpus):
    root = corpus("semaine")
    coefs = constructed_session(root)
    adapter = get_adapter("semaine", root, {"turns": "pause"})
    m = adapter.manifest()
    labels = adapter.labels(["arousal", "valence"])
    check_label_frame(labels, m, ["arousal", "valence"])
    a, b = np.mean(coefs, axis=0)
    for rec, offset in (("2_t01", 1.0), ("2_t03", 6.0)):
        for dim, sign in (("arousal", 1), ("valence", -1)):
            got = labels[(labels.recording == rec) & (labels.dimension == dim)]
            t = offset + got["time"].to_numpy()  # turn-relative times
            np.testing.assert_allclose(got["value"], sign * (a + b * t), atol=1e-6)
    raters = adapter.rater_labels(["valence"])
    assert list(raters.columns) == RATER_COLUMNS
    for r, (ra, rb) in enumerate(coefs, start=1):
        got = raters[(raters.recording == "2_t03") & (raters.rater == f"R{r}")]
        np.testing.assert_allclose(got["value"], -(ra + rb * (6.0 + got["time"].to_numpy())), atol=1e-6)
        assert got["frame"].tolist() == labels[(labels.recording == "2_t03") &
                                               (labels.dimension == "valence")]["frame"].tolist()
    # Non-linear traces: at the 20 ms sample times the average is exactly the mean of the samples.
    folder = root / "Sessions" / "2"
    times = np.round(np.arange(0, 24.0 + 1e-9, 0.02), 2)
    samples = []
    for r in (1, 2, 3):
        values = np.round(0.8 * np.sin(0.7 * times + r), 6)
        samples.append(values)
        (folder / f"R{r}S1TUCPoDA.txt").write_text("".join(f"{t:.2f} {v:.6f}\n" for t, v in zip(times, values)))
    labels = get_adapter("semaine", root, {"turns": "pause"}).labels(["arousal"])
    got = labels[labels.recording == "2_t03"]["value"].to_numpy()
    expect = np.mean(samples, axis=0)[300::2][: len(got)]  # 6.00 s = sample 300, every other 20 ms sample
    np.testing.assert_allclose(got, expect, atol=1e-12)


def test_semaine_trace_errors(corpus, caplog):
    root = corpus("semaine")
    constructed_session(root)
    labels = lambda dims=("arousal",): get_adapter("semaine", root).labels(list(dims))  # noqa: E731
    trace = root / "Sessions" / "2" / "R2S1TUCPoDA.txt"
    original = trace.read_text()
    raises_naming(lambda: labels(["power"]), "Sessions/2", "power")
    raises_naming(lambda: labels(["dominance"]), "dominance")
    _edit_line(trace, 51, "1.00 nan")
    raises_naming(labels, "R2S1TUCPoDA.txt:51", "NaN")
    _edit_line(trace, 51, "1.00 0.2 0.3")
    raises_naming(labels, "R2S1TUCPoDA.txt:51")
    _edit_line(trace, 51, "1.00 1.5")
    raises_naming(labels, "R2S1TUCPoDA.txt:51", "outside")
    # A trace ending early no longer stops ingestion: the turns past it are dropped and the trace named.
    trace.write_text("".join(original.splitlines(keepends=True)[: 8 * 50]))  # 8 s of 24
    with caplog.at_level(logging.WARNING):
        got = labels()
    assert sorted(r for r in got["recording"].unique() if r.startswith("2_")) == ["2_t01"]
    assert "R2S1TUCPoDA.txt" in caplog.text
    trace.write_text(original)
    (root / "Sessions" / "2" / "R2S1TUCSpDA.txt").write_text(original)
    raises_naming(labels, "R2S1TUCSpDA.txt", "Poppy")


def test_semaine_session_errors(corpus, caplog):
    root = corpus("semaine")
    manifest = lambda: get_adapter("semaine", root).manifest()  # noqa: E731
    words = root / "Sessions" / "3" / "wordLevel_alignedTranscript_01.2Spike_user"
    original = words.read_text()
    _edit_line(words, 3, "1500 YEAH")
    raises_naming(manifest, "wordLevel_alignedTranscript_01.2Spike_user:3", "start_ms end_ms WORD")
    words.write_text(original + "90000 91000 LATE\n")
    raises_naming(manifest, "wordLevel_alignedTranscript_01.2Spike_user", "past the end")
    words.write_text(original)

    for path in (root / "Sessions" / "8").glob("R*.txt"):
        path.unlink()
    next((root / "Sessions" / "9").glob("*User HeadMounted*.wav")).unlink()
    raises_naming(manifest, "user audio without traces: sessions 8", "traces without user audio: sessions 9")
    shutil.rmtree(root / "Sessions" / "8")
    shutil.rmtree(root / "Sessions" / "9")

    beginning = root / "Sessions" / "1"
    beginning.mkdir()
    (beginning / "session.xml").write_text('<session sessionId="1" recording="1" character="Beginning"/>')
    words.unlink()
    with caplog.at_level(logging.INFO):
        m = manifest()
    assert set(m["group"]) == {"1", "3", "4", "5"}  # recordings of sessions 2, 14, 20 and 26
    assert "1 (Beginning)" in caplog.text and "3 (no word-level user transcript)" in caplog.text

    (beginning / "session.xml").write_text('<session sessionId="7" character="Poppy"/>')
    raises_naming(manifest, "Sessions/1/session.xml", "sessionId")
    (beginning / "session.xml").write_text('<session sessionId="1" character="Poppy">')
    raises_naming(manifest, "Sessions/1/session.xml", "malformed")
    (beginning / "session.xml").unlink()
    raises_naming(manifest, "Sessions/1/session.xml", "does not exist")
    shutil.rmtree(root / "Sessions")
    raises_naming(manifest, "Sessions", "does not exist")
