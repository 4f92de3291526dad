"""Figures of both papers from tiny generated inputs: real images written, choices deterministic, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from crafted_runs import DEFAULT_MODELS, crafted
from emotrace import collapse
from emotrace.errors import InputError
from emotrace.figures import DPI, output_paths, require_input
from emotrace.figures.bars import plot_trigeorgis_bars, plot_yang_bars, read_all_metrics, read_metrics, system_values
from emotrace.figures.curves import plot_learning_curves
from emotrace.figures.traces import choose_recording, choose_segment, gold_trace, load_predictions, plot_recording, plot_segment
from emotrace.io import write_npz
from emotrace.predictions import to_frame, write_predictions
from emotrace.segments import SAMPLE_RATE, segment_recording
from emotrace.runs import Scores, with_intervals
from emotrace.tables import collect, format_seeds, trigeorgis_table
from emotrace.uncertainty import settings

DIMS = ["arousal", "valence"]


def check_figure(paths: list[Path], width_in: float, height_in: float) -> None:
    """A PDF and a PNG of the expected pixel size that is not blank."""
    by_suffix = {p.suffix: p for p in paths}
    assert set(by_suffix) == {".png", ".pdf"}
    pdf = by_suffix[".pdf"].read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    image = imread(by_suffix[".png"])
    assert image.shape[:2] == (round(height_in * DPI), round(width_in * DPI))
    assert image[..., :3].var() > 0
    assert not list(paths[0].parent.glob(".*"))  # no temporary file left behind


# ---------------------------------------------------------------- traces

def make_predictions(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Predictions of four models on a long and a short test recording and a dev one; e2e predicts arousal only."""
    rng = np.random.default_rng(seed)
    lengths = {"rec_long": 900, "rec_short": 400, "rec_dev": 600}
    golds = {}
    for rec, n in lengths.items():
        t = np.arange(n)
        golds[rec] = np.stack([0.5 * np.sin(t / 60.0), 0.3 * np.cos(t / 45.0)], axis=1)
    golds["rec_long"][450:600, 1] += np.linspace(-0.8, 0.8, 150)  # the tile 450..599 has the largest gold range
    out = {}
    for model, dims in (("wave", DIMS), ("spec", DIMS), ("wavespec", DIMS), ("e2e", ["arousal"])):
        frames = []
        for rec, gold in golds.items():
            cols = [DIMS.index(d) for d in dims]
            pred = gold[:, cols] + rng.normal(0, 0.1, (len(gold), len(cols)))
            part = "dev" if rec == "rec_dev" else "test"
            frames.append(to_frame(rec, part, dims, np.arange(len(gold)), pred, gold[:, cols]))
        out[model] = pd.concat(frames, ignore_index=True)
    return out


def test_recording_and_segment_choice_is_deterministic():
    preds = make_predictions()
    assert choose_recording(preds) == "rec_long"
    assert choose_recording(preds, partition="dev") == "rec_dev"
    assert choose_segment([gold_trace(preds, "rec_long", d) for d in DIMS]) == 450


def test_trace_figures_are_written(tmp_path):
    preds = make_predictions()
    info = plot_recording(preds, tmp_path / "recording")
    assert info["recording"] == "rec_long" and info["dimensions"] == DIMS
    check_figure(info["paths"], 11, 2.6 * 2 + 0.8)
    seg = plot_segment(preds, [tmp_path / "seg.png", tmp_path / "seg.pdf"], dimensions=["valence"])
    assert seg["start_frame"] == 450 and seg["recording"] == "rec_long"
    check_figure(seg["paths"], 10, 2.4 + 0.9)


def test_predictions_files_round_trip_and_missing_file_names_rule(tmp_path):
    preds = make_predictions()
    write_predictions(preds["wave"], tmp_path / "wave.csv")
    loaded = load_predictions({"wave": tmp_path / "wave.csv"})
    assert choose_recording(loaded) == "rec_long"
    e2e = preds["wave"]
    write_predictions(e2e[e2e["dimension"] == "arousal"], tmp_path / "arousal.csv")
    write_predictions(e2e[e2e["dimension"] == "valence"], tmp_path / "valence.csv")
    joined = load_predictions({"e2e": [tmp_path / "arousal.csv", tmp_path / "valence.csv"]})["e2e"]
    assert len(joined) == len(e2e) and set(joined["dimension"]) == set(DIMS)
    with pytest.raises(InputError, match="predicted by more than one"):
        load_predictions({"e2e": [tmp_path / "arousal.csv", tmp_path / "arousal.csv"]})
    missing = tmp_path / "results" / "spec" / "predictions.csv"
    with pytest.raises(InputError, match="rule `train_network`") as err:
        load_predictions({"spec": missing}, rule="train_network")
    assert str(missing) in str(err.value) and f"snakemake {missing}" in str(err.value)


def test_unknown_recording_or_empty_input_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no model"):
        plot_recording({}, tmp_path / "x")
    preds = make_predictions()
    with pytest.raises(InputError, match="no prediction for recording"):
        plot_recording(preds, tmp_path / "x", recording="nope")


def test_output_paths():
    assert [p.name for p in output_paths("a/b/fig")] == ["fig.png", "fig.pdf"]
    assert [p.name for p in output_paths("a/fig.png")] == ["fig.png", "fig.pdf"]
    with pytest.raises(InputError, match="ending in"):
        output_paths(["fig.svg"])


# ---------------------------------------------------------------- curves

def write_history(path: Path, n_epochs: int, best: int) -> Path:
    epochs = np.arange(1, n_epochs + 1)
    dev = 0.6 - 0.02 * (epochs - best) ** 2
    df = pd.DataFrame({"epoch": epochs, "train_loss": 1.0 / epochs, "dev_ccc_arousal": dev + 0.1,
                       "dev_ccc_valence": dev - 0.1, "dev_ccc_mean": dev, "seconds": 1.0})
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def test_learning_curves(tmp_path):
    a = write_history(tmp_path / "a" / "history.csv", 8, 5)
    b = write_history(tmp_path / "b" / "history.csv", 3, 2)
    paths = plot_learning_curves({"wavespec": a, "spec": b}, tmp_path / "curves")
    check_figure(paths, 10, 6.5)
    with pytest.raises(InputError, match="rule `train_network`"):
        plot_learning_curves({"x": tmp_path / "none" / "history.csv"}, tmp_path / "c", rule="train_network")
    (tmp_path / "bad.csv").write_text("epoch,loss\n1,2\n")
    with pytest.raises(InputError, match="missing columns"):
        plot_learning_curves({"x": tmp_path / "bad.csv"}, tmp_path / "c")


# ---------------------------------------------------------------- bars

def write_metrics(root: Path, corpus: str, model: str, objective: str, target: str, seed: int,
                  scores: dict[tuple[str, str], float]) -> Path:
    rows = [{"partition": p, "dimension": d, "postprocessed": post, "ccc": v - (0 if post else 0.05),
             "ccc_per_recording": v, "pearson": v, "rmse": 0.2, "n_frames": 100}
            for (p, d), v in scores.items() for post in (True, False)]
    path = root / "results" / corpus / "evaluate" / model / objective / target / f"seed{seed}" / "metrics.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_trigeorgis_bars_match_the_table(tmp_path):
    files = []
    for seed, shift in ((1, -0.02), (2, 0.03)):
        for dim, value in (("arousal", 0.6), ("valence", -0.1)):
            files.append(write_metrics(tmp_path, "tiny", "e2e", "ccc", dim, seed,
                                       {("test", dim): value + shift, ("dev", dim): value}))
    files.append(write_metrics(tmp_path, "tiny", "svr_egemaps", "mse", "arousal", 1, {("test", "arousal"): 0.3}))
    df = read_metrics(files)
    table = trigeorgis_table(df, DEFAULT_MODELS)
    row = table[(table["model"] == "e2e") & (table["part"].str.startswith("b)"))].iloc[0]
    for dim in DIMS:
        values = system_values(df, "e2e", "ccc", dim, dim, postprocessed=True)
        assert len(values) == 2
        assert row[dim].startswith(format_seeds(values))
    check_figure(plot_trigeorgis_bars(df, DEFAULT_MODELS, tmp_path / "trig"), 13, 7.5)
    assert system_values(df, "svr_egemaps", "mse", "valence", "valence", True).size == 0  # a gap


def test_yang_bars_and_errors(tmp_path):
    files = [write_metrics(tmp_path, "tiny", m, "ccc", "joint", 1,
                           {("test", "arousal"): 0.5, ("test", "valence"): 0.2}) for m in ("wave", "spec")]
    df = collect(files)
    check_figure(plot_yang_bars(df, DEFAULT_MODELS, tmp_path / "yang", "RECOLA"), 11, 4.8)
    with pytest.raises(InputError, match="published figures exist"):
        plot_yang_bars(df, DEFAULT_MODELS, tmp_path / "yang", "IEMOCAP")
    with pytest.raises(InputError, match="rule `evaluate`"):
        read_metrics([tmp_path / "results" / "tiny" / "evaluate" / "x" / "ccc" / "joint" / "seed1" / "metrics.csv"],
                     rule="evaluate")


def test_require_input_per_input_rules(tmp_path):
    with pytest.raises(InputError, match="rule `segment`"):
        require_input(tmp_path / "a.npz", {"model": "train_network", "segments": "segment"}, "segments")
    with pytest.raises(InputError) as err:
        require_input(tmp_path / "a.npz")
    assert "rule" not in str(err.value) and "missing input file" in str(err.value)


# ---------------------------------------------------------------- cells and LIME (real models, untrained)

def voiced_audio(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-normalised 16 kHz harmonic 'speech' with a slow F0 glide and loudness envelope; returns audio, f0 (Hz), envelope."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 150.0 * 2 ** (0.5 * np.sin(2 * np.pi * t / 5.0))
    envelope = 0.15 + 0.85 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 3.3 + 1.0))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    source = sum(np.sin(k * phase) / k for k in range(1, 12))
    audio = envelope * source + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    audio = (audio - audio.mean()) / audio.std()
    return audio.astype(np.float32), f0, envelope


def write_segments(tmp_path: Path, seconds: float, recording: str = "test_rec", unvoiced: bool = False) -> Path:
    audio, _, envelope = voiced_audio(seconds)
    if unvoiced:  # white noise: loudness and energy vary a little, F0 is undefined everywhere
        audio = np.random.default_rng(1).standard_normal(audio.size).astype(np.float32)
    n_labels = int(seconds / 0.04)
    env = envelope[::640][:n_labels]
    labels = np.stack([env - env.mean(), np.sin(np.arange(n_labels) / 20.0) * 0.5], axis=1).astype(np.float32)
    path = tmp_path / "segment" / f"{recording}.npz"
    write_npz(path, **segment_recording(audio, labels, DIMS, recording, alignment="start", hop_frames=None))
    return path


def test_prosodic_features_follow_the_signal():
    from emotrace.figures.cells import prosodic_features

    audio, f0, envelope = voiced_audio(8)
    feats = prosodic_features(audio, 200)
    assert list(feats.columns) == ["rms_energy_range", "loudness", "f0_mean"] and len(feats) == 200
    centres = ((np.arange(200) + 0.5) * 640).astype(int)
    assert np.corrcoef(feats["loudness"], envelope[centres])[0, 1] > 0.8
    semitones = 12 * np.log2(f0[centres] / 27.5)
    assert np.isfinite(feats["f0_mean"]).all()
    assert np.corrcoef(feats["f0_mean"], semitones)[0, 1] > 0.95
    assert (feats["rms_energy_range"] >= 0).all()


def test_correlate_cells_picks_the_strongest_cell_with_its_sign():
    from emotrace.figures.cells import correlate_cells

    rng = np.random.default_rng(1)
    feats = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    feats.loc[:9, "b"] = np.nan  # undefined frames are left out
    cells = rng.normal(size=(400, 6))
    cells[:, 2] = -3 * feats["a"] + 0.3 * rng.normal(size=400)
    cells[:, 4] = np.nan_to_num(feats["b"].to_numpy()) + 0.5 * rng.normal(size=400)
    cells[:, 5] = 0.0  # a dead unit
    table = correlate_cells(cells, feats)
    assert table["cell"].tolist() == [2, 4]
    assert table.loc[0, "rho"] < -0.9 and table.loc[1, "rho"] > 0.8
    assert table.loc[1, "n_frames"] == 390
    with pytest.raises(InputError, match="constant"):
        correlate_cells(cells, pd.DataFrame({"c": np.ones(400)}))


def save_untrained(tmp_path: Path, name: str, dims: list[str]) -> Path:
    """A real model of the paper's size, untrained, saved as model.pt the way training saves it."""
    import torch

    from emotrace.models import build_model
    from emotrace.training import TrainSettings, cpu_state, model_checkpoint, save_torch

    torch.manual_seed(0)
    model = build_model(name, len(dims))
    settings = TrainSettings(model=name, dimensions=dims)
    path = tmp_path / "train" / name / "model.pt"
    save_torch(model_checkpoint(settings, model, cpu_state(model), None, 0, None, None, {}), path)
    return path


def test_cell_figure_on_an_untrained_e2e_model(tmp_path):
    from emotrace.figures.cells import cell_figure

    segments = write_segments(tmp_path, 8.0)
    model = save_untrained(tmp_path, "e2e", ["arousal"])
    out = tmp_path / "figures" / "cells"
    table = cell_figure(model, [segments], out, tmp_path / "figures" / "cells.csv", min_frames=150)
    check_figure([out.with_suffix(".png"), out.with_suffix(".pdf")], 11, 8)
    written = pd.read_csv(tmp_path / "figures" / "cells.csv")
    assert len(written) == 3 and written["feature"].tolist() == ["rms_energy_range", "loudness", "f0_mean"]
    assert (written["abs_rho"] <= 1).all() and (written["abs_rho"] > 0).all()
    assert written["unit"].str.fullmatch(r"layer [12] (forward|backward) cell \d+").all()
    assert written["n_frames"].max() == 200 and (written["recording"] == "test_rec").all()
    pd.testing.assert_frame_equal(written, table, check_dtype=False)


def test_cell_figure_errors(tmp_path):
    from emotrace.figures.cells import cell_figure

    segments = write_segments(tmp_path, 8.0)
    with pytest.raises(InputError, match="rule `train_network`") as err:
        cell_figure(tmp_path / "no_model.pt", [segments], tmp_path / "c", tmp_path / "c.csv", min_frames=10,
                    rule={"model": "train_network", "segments": "segment"})
    assert "no_model.pt" in str(err.value)
    with pytest.raises(InputError, match="rule `segment`"):
        cell_figure(tmp_path / "no_model.pt", [tmp_path / "none.npz"], tmp_path / "c", tmp_path / "c.csv",
                    rule={"model": "train_network", "segments": "segment"})
    assert not (tmp_path / "c.png").exists()


def test_cell_figure_of_a_short_unvoiced_recording_draws_what_it_can_with_notes(tmp_path, caplog):
    """A test recording shorter than min_frames without a voiced frame: two panels, the F0 one empty,
    both reasons on the figure and in the log; under 1 s of audio a placeholder says why."""
    from emotrace.figures.cells import cell_figure

    model = save_untrained(tmp_path, "e2e", ["arousal"])
    out, csv = tmp_path / "figures" / "cells", tmp_path / "figures" / "cells.csv"
    with caplog.at_level("WARNING"):
        table = cell_figure(model, [write_segments(tmp_path, 4.0, unvoiced=True)], out, csv, min_frames=250)
    check_figure([out.with_suffix(".png"), out.with_suffix(".pdf")], 11, 8)
    assert table["feature"].tolist() == ["rms_energy_range", "loudness"]
    assert pd.read_csv(csv)["feature"].tolist() == ["rms_energy_range", "loudness"]
    assert "only 100 frames (4.0 s), fewer than figures.min_cell_frames = 250" in caplog.text
    assert "mean F0: no voiced frame in the recording (0 defined frames): panel left empty" in caplog.text

    caplog.clear()
    tiny = write_segments(tmp_path / "tiny", 0.8, unvoiced=True)
    with caplog.at_level("WARNING"):
        table = cell_figure(model, [tiny], out, csv, min_frames=250)
    check_figure([out.with_suffix(".png"), out.with_suffix(".pdf")], 11, 4)
    assert table.empty and pd.read_csv(csv).empty
    assert "cell figure not drawn: the descriptors need at least 1 s of audio" in caplog.text


def test_lime_on_an_untrained_spec_model_is_deterministic(tmp_path):
    from emotrace.figures.lime_spec import explain_crest, lime_figure, patch_grid
    from emotrace.training import load_model

    segments = write_segments(tmp_path, 13.0)  # two full segments and a partial one
    trained = load_model(save_untrained(tmp_path, "spec", DIMS))
    first = explain_crest(trained, segments, "valence", num_samples=12, seed=3)
    assert first.weights.shape == (120,) and np.isfinite(first.weights).all() and np.abs(first.weights).max() > 0
    assert first.spectrogram.shape == (3, 40, 600) and first.patches.shape == (40, 600)
    assert first.frame0 in (0, 150) and first.prediction[first.crest] == first.prediction[first.mask].max()
    np.testing.assert_array_equal(patch_grid(40, 600), first.patches)
    assert np.bincount(first.patches.ravel()).tolist() == [200] * 120

    out = tmp_path / "figures" / "lime"
    result = lime_figure(trained, [segments], out, csv=tmp_path / "figures" / "lime.csv", num_samples=12, seed=3,
                         start_frame=first.frame0)
    np.testing.assert_array_equal(result.weights, first.weights)  # same seed, same explanation
    check_figure([out.with_suffix(".png"), out.with_suffix(".pdf")], 10, 8.5)
    table = pd.read_csv(tmp_path / "figures" / "lime.csv")
    assert len(table) == 120 and np.allclose(table["weight"], first.weights)
    with pytest.raises(InputError, match="no segment starts at label frame 7"):
        explain_crest(trained, segments, "valence", start_frame=7, num_samples=12)


def test_unit_names_follow_the_lstm_stack():
    from emotrace.figures.cells import unit_name
    from emotrace.models import build_model

    model = build_model("drnn", 1, n_features=4)  # 3 BLSTM layers of 64
    assert unit_name(model, 0) == "layer 1 forward cell 0"
    assert unit_name(model, 64 + 5) == "layer 1 backward cell 5"
    assert unit_name(model, 2 * 128 + 127) == "layer 3 backward cell 63"


def test_bars_with_intervals_collapsed_and_raters(tmp_path):
    """all_metrics.csv as the tables rule writes it, read back: error bars, a collapsed system, the raters' row."""
    runs, metrics = crafted({("e2e", "ccc", "arousal", 1): 0.8, ("wave", "ccc", "joint", 1): None})
    all_metrics = with_intervals(metrics, Scores(runs, settings({"replicates": 200})), collapse.settings())
    all_metrics.to_csv(tmp_path / "all_metrics.csv", index=False)
    df = read_all_metrics(tmp_path / "all_metrics.csv")
    assert df["collapsed"].dtype == bool and df.loc[df["model"] == "wave", "collapsed"].all()
    agreement = pd.DataFrame({"partition": ["dev", "test"] * 2, "dimension": ["arousal"] * 2 + ["valence"] * 2,
                              "loo_ccc": [0.8, 0.82, 0.5, 0.55], "loo_ccc_low": [0.7, 0.74, 0.4, 0.41],
                              "loo_ccc_high": [0.86, 0.88, 0.6, 0.66]})
    check_figure(plot_trigeorgis_bars(df, DEFAULT_MODELS, tmp_path / "trig", agreement=agreement), 13, 7.5)
    check_figure(plot_yang_bars(df, DEFAULT_MODELS, tmp_path / "yang", "RECOLA", agreement=agreement), 11, 4.8)
