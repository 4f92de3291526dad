"""`emotrace predict` with several trained systems: SVR model.pt, per-dimension runs merged, column names,
overwrite refusal and --force, --device checks, and the tiny pipeline's own systems on its own audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from emotrace.audio import preprocess
from emotrace.cli import main
from emotrace.corpora.labels import frame_count
from emotrace.errors import InputError
from emotrace.features import extract
from emotrace.inference import check_device, load_predictor, load_trained
from emotrace.normalise import apply_stats, fit_stats
from emotrace.postprocess import apply_trace, identity_settings
from emotrace.predict_many import columns, find_model_files, load_systems
from emotrace.svr import SVR_FORMAT, fit_svr_grid, svr_checkpoint
from emotrace.training import save_torch

from test_cli import voiced
from test_inference import save_model

SR = 16000


def fit_svr(path: Path, dims=("arousal", "valence")) -> dict:
    """Linear SVRs fitted by the library (C on a small dev split) on eGeMAPS rows of generated speech, saved as
    the train_svr rule saves them; returns the fitted models and the statistics their rows were normalised with."""
    audio = voiced(10.0, SR, seed=11).astype(np.float32)
    rows, names = extract(audio, SR, "egemaps", 251, 0.04, 0.02)
    stats = fit_stats([rows], names)
    X = apply_stats(rows, stats)
    rng = np.random.default_rng(0)
    models = {}
    for dim in dims:
        y = X @ rng.standard_normal(X.shape[1]) * 0.05 + 0.05 * rng.standard_normal(len(X))
        models[dim], _ = fit_svr_grid(X[:180], y[:180], X[180:], y[180:], [0.01, 0.1], None, 0)
    save_torch(svr_checkpoint(models, "svr_egemaps", "egemaps", stats, 0, 0.04, {"seed": 1}), path)
    return {"models": models, "stats": stats}


def settings_file(root: Path, system: str, settings: dict) -> None:
    """The post-processing settings.json the pipeline would have written for `system` (model/objective/target/seed)."""
    path = root / "results" / "demo" / "postprocess" / system / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(settings))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """results/demo/train with Trigeorgis's per-dimension e2e runs and a joint SVR, plus tuned settings for two."""
    root = tmp_path_factory.mktemp("systems")
    train = root / "results" / "demo" / "train"
    folders = {}
    for dim, seed in (("arousal", 0), ("valence", 1)):
        folders[f"e2e_{dim}"] = train / "e2e" / "ccc" / dim / "seed1"
        folders[f"e2e_{dim}"].mkdir(parents=True)
        save_model(folders[f"e2e_{dim}"] / "model.pt", (dim,), seed=seed)
    folders["svr"] = train / "svr_egemaps" / "mse" / "joint" / "seed1"
    folders["svr"].mkdir(parents=True)
    svr = fit_svr(folders["svr"] / "model.pt")
    e2e_arousal = {**identity_settings("arousal", 0.04), "enabled": True, "bias": 0.5}
    settings_file(root, "e2e/ccc/arousal/seed1", {"arousal": e2e_arousal})
    svr_valence = {**identity_settings("valence", 0.04), "enabled": True, "median_window": 0.44, "bias": -0.25}
    settings_file(root, "svr_egemaps/mse/joint/seed1",
                  {"arousal": identity_settings("arousal", 0.04), "valence": svr_valence})
    return {"root": root, "train": train, **folders, **svr,
            "settings": {"e2e_arousal": e2e_arousal, "svr_valence": svr_valence}}


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> list[Path]:
    """Two recordings of different rates and channel counts."""
    folder = tmp_path_factory.mktemp("recordings")
    sf.write(str(folder / "one.wav"), voiced(7.5, 22050, seed=1), 22050)
    sf.write(str(folder / "two.flac"), voiced(4.0, 48000, seed=2, channels=2), 48000)
    return [folder / "one.wav", folder / "two.flac"]


# ---------------------------------------------------------------- the SVR's model.pt


def test_svr_model_file_is_plain_data_and_predicts_as_sklearn(trained):
    stored = torch.load(trained["svr"] / "model.pt", weights_only=True)  # no pickled estimator inside
    assert stored["format"] == SVR_FORMAT and stored["feature_set"] == "egemaps"
    assert stored["dimensions"] == ["arousal", "valence"] and set(stored["C"]) == {"arousal", "valence"}
    assert stored["C"]["arousal"] == trained["models"]["arousal"].C
    model = load_trained(trained["svr"] / "model.pt")
    assert model.module.input_kind == "features" and model.feature_set == "egemaps"
    X = np.random.default_rng(3).standard_normal((2, 7, model.n_features)).astype(np.float32)
    with torch.no_grad():
        y = model.module(torch.from_numpy(X)).numpy()
    for i, dim in enumerate(("arousal", "valence")):
        np.testing.assert_allclose(y[..., i].reshape(-1), trained["models"][dim].predict(X.reshape(-1, X.shape[2])),
                                   rtol=1e-5, atol=1e-6)


def test_damaged_svr_model_names_the_file(tmp_path, trained):
    stored = torch.load(trained["svr"] / "model.pt", weights_only=True)
    torch.save({**stored, "coef": stored["coef"][:, :3]}, tmp_path / "short.pt")
    with pytest.raises(InputError, match="short.pt.*do not fit"):
        load_trained(tmp_path / "short.pt")
    del stored["feature_stats"]
    torch.save(stored, tmp_path / "nostats.pt")
    with pytest.raises(InputError, match="nostats.pt.*incomplete or damaged"):
        load_trained(tmp_path / "nostats.pt")


# ---------------------------------------------------------------- several systems in one call


def test_e2e_per_dimension_runs_and_an_svr_in_one_call_on_two_rates(trained, recordings, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", *map(str, recordings), "--model", str(trained["e2e_arousal"]),
                 "--model", str(trained["e2e_valence"] / "model.pt"), "--model", str(trained["svr"]),
                 "--out", str(out), "--device", "cpu"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "system e2e_ccc: model e2e (arousal)" in printed and "system svr_egemaps_mse: model svr_egemaps" in printed
    assert sorted(p.name for p in out.iterdir()) == ["one.csv", "two.csv"]
    for path in recordings:
        table = pd.read_csv(out / f"{path.stem}.csv")
        assert list(table.columns) == ["time", "e2e_ccc_arousal", "e2e_ccc_valence",
                                       "svr_egemaps_mse_arousal", "svr_egemaps_mse_valence"]
        n = len(table)
        assert n == frame_count(sf.info(str(path)).duration, 0.04)  # every 40 ms frame in [0, duration]
        # each e2e column is its own model's trace, post-processed with its own settings (arousal: +0.5)
        for dim in ("arousal", "valence"):
            raw, _ = load_predictor(trained[f"e2e_{dim}"], postprocess=False, device="cpu")
            alone = raw.predict_file(path).values[:, 0]
            expected = apply_trace(alone, trained["settings"]["e2e_arousal"]) if dim == "arousal" else alone
            np.testing.assert_allclose(table[f"e2e_ccc_{dim}"], expected, rtol=1e-6, atol=1e-6)
        # the SVR's columns: sklearn on the openSMILE rows extracted and normalised as the pipeline does
        rows = apply_stats(extract(preprocess(path, 0.0, None), SR, "egemaps", n, 0.04, 0.02)[0], trained["stats"])
        sklearn = {d: trained["models"][d].predict(rows) for d in ("arousal", "valence")}
        np.testing.assert_allclose(table["svr_egemaps_mse_arousal"], sklearn["arousal"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(table["svr_egemaps_mse_valence"],
                                   apply_trace(sklearn["valence"], trained["settings"]["svr_valence"]),
                                   rtol=1e-5, atol=1e-5)


def test_a_folder_of_systems_seeds_apart_and_grid_runs_skipped(trained, tmp_path):
    train = tmp_path / "train"
    shutil.copytree(trained["train"], train)
    seed2 = train / "e2e" / "ccc" / "arousal" / "seed2"
    seed2.mkdir()
    save_model(seed2 / "model.pt", ("arousal",), seed=5)
    grid_run = train / "e2e" / "ccc" / "valence" / "seed1" / "lr0.001"  # a learning-rate grid's run: not a system
    grid_run.mkdir()
    shutil.copy(train / "e2e" / "ccc" / "valence" / "seed1" / "model.pt", grid_run / "model.pt")
    unfinished = train / "drnn_compare" / "ccc" / "arousal" / "seed1" / "lr0.01"  # the grid has not chosen yet
    unfinished.mkdir(parents=True)
    shutil.copy(grid_run / "model.pt", unfinished / "model.pt")
    old_svr = train / "svr_compare" / "mse" / "arousal" / "seed1"
    old_svr.mkdir(parents=True)
    (old_svr / "c_grid.csv").write_text("C,dev_ccc\n")

    files, notes = find_model_files([train, train / "e2e" / "ccc" / "valence" / "seed1"])
    assert [f.relative_to(train.resolve()).parent.as_posix() for f in files] == [
        "e2e/ccc/arousal/seed1", "e2e/ccc/arousal/seed2", "e2e/ccc/valence/seed1", "svr_egemaps/mse/joint/seed1"]
    assert len(notes) == 2 and str(unfinished) in notes[0] and "not chosen its rate" in notes[0]
    assert str(old_svr) in notes[1] and "model.pt" in notes[1]
    systems, left_out = load_systems(files, None, None, False, 4, torch.device("cpu"), None)
    assert [s.name for s in systems] == ["e2e_ccc_seed1", "e2e_ccc_seed2", "svr_egemaps_mse"]
    assert columns(systems) == ["e2e_ccc_seed1_arousal", "e2e_ccc_seed1_valence", "e2e_ccc_seed2_arousal",
                                "svr_egemaps_mse_arousal", "svr_egemaps_mse_valence"] and not left_out
    systems, left_out = load_systems(files, ["valence"], None, False, 4, torch.device("cpu"), None)
    assert [s.name for s in systems] == ["e2e_ccc", "svr_egemaps_mse"]
    assert columns(systems) == ["e2e_ccc_valence", "svr_egemaps_mse_valence"] and len(left_out) == 2
    with pytest.raises(InputError, match="no model given predicts \\['dominance'\\]"):
        load_systems(files, ["dominance"], None, False, 4, torch.device("cpu"), None)
    with pytest.raises(InputError, match="--postprocess-settings"):
        load_systems(files, None, tmp_path / "settings.json", True, 4, torch.device("cpu"), None)
    with pytest.raises(InputError, match="holds no model.pt"):
        find_model_files([tmp_path / "train" / "svr_compare" / "mse"])


def test_one_system_keeps_plain_dimension_columns_and_clashes_name_the_file(trained, recordings, tmp_path):
    out = tmp_path / "out"
    assert main(["predict", str(recordings[0]), "--model", str(trained["svr"]), "--model", str(trained["svr"]),
                 "--out", str(out), "--device", "cpu"]) == 0  # the same model twice counts once
    assert list(pd.read_csv(out / "one.csv").columns) == ["time", "arousal", "valence"]
    a, b = save_model(tmp_path / "a.pt", ("arousal",)), save_model(tmp_path / "b.pt", ("arousal",), seed=2)
    a_seed = torch.load(a, weights_only=True)
    torch.save({**a_seed, "seed": 2}, a)  # both record e2e, ccc, seed 2: nothing tells them apart
    with pytest.raises(InputError, match="b.pt.*gives arousal.*a.pt"):
        load_systems([a, b], None, None, False, 4, torch.device("cpu"), None)


def test_ssl_models_of_one_extractor_share_its_features(tmp_path, recordings, monkeypatch):
    """ssl_blstm and ssl_spec on the same frozen model and layers: one extraction per recording, and each
    model's columns equal its traces alone."""
    from emotrace import ssl
    from emotrace.models import build_model
    from emotrace.training import TrainSettings, cpu_state, model_checkpoint

    from test_ssl import TINY

    weights = tmp_path / "tiny_wav2vec2.pt"
    torch.save(ssl.random_model(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY), seed=1).state_dict(), weights)
    stored = ssl.stored_settings(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY, checkpoint=str(weights),
                                                 layers=(1, 3), precision="float32"))
    paths = []
    for name, kwargs in (("ssl_blstm", {"n_layers": 2, "hidden_size": 8}), ("ssl_spec", {"n_layers": 2, "hidden_size": 4})):
        torch.manual_seed(0)
        module = build_model(name, 2, n_features=64, **kwargs)
        settings = TrainSettings(model=name, dimensions=["arousal", "valence"], model_kwargs=kwargs)
        paths.append(tmp_path / f"{name}.pt")
        save_torch(model_checkpoint(settings, module, cpu_state(module), 64, 0, "ssl", None,
                                    {"seed": 1, "ssl": stored}), paths[-1])
    extract_ssl, calls = ssl.extract, []
    monkeypatch.setattr(ssl, "extract", lambda *args, **kwargs: calls.append(args[2]) or extract_ssl(*args, **kwargs))
    out = tmp_path / "out"
    assert main(["predict", str(recordings[1]), "--model", str(paths[0]), "--model", str(paths[1]),
                 "--out", str(out), "--device", "cpu"]) == 0
    assert len(calls) == 1
    table = pd.read_csv(out / "two.csv")
    assert list(table.columns) == ["time", "ssl_blstm_ccc_arousal", "ssl_blstm_ccc_valence",
                                   "ssl_spec_ccc_arousal", "ssl_spec_ccc_valence"]
    for path in paths:
        alone, _ = load_predictor(path, device="cpu")
        np.testing.assert_allclose(table[[f"{path.stem}_ccc_arousal", f"{path.stem}_ccc_valence"]],
                                   alone.predict_file(recordings[1]).values, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- outputs and devices


def test_existing_outputs_are_refused_unless_forced(trained, recordings, tmp_path, capsys):
    wav, out = str(recordings[0]), tmp_path / "out"
    assert main(["predict", wav, "--model", str(trained["e2e_arousal"]), "--out", str(out)]) == 0
    before = (out / "one.csv").read_bytes()
    capsys.readouterr()
    code = main(["predict", wav, "--model", str(trained["e2e_valence"]), "--out", str(out), "--plot"])
    err = capsys.readouterr().err
    assert code == 2 and str(out / "one.csv") in err and "--force" in err
    assert (out / "one.csv").read_bytes() == before and not (out / "one.png").exists()
    assert main(["predict", wav, "--model", str(trained["e2e_valence"]), "--out", str(out), "--plot", "--force"]) == 0
    assert list(pd.read_csv(out / "one.csv").columns) == ["time", "valence"] and (out / "one.png").is_file()
    # a recording that fails leaves nothing behind, not even a temporary file
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["predict", str(bad), "--model", str(trained["e2e_valence"]), "--out", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["one.csv", "one.png"]


def test_a_device_that_is_not_here_is_a_usage_error_naming_the_option(trained, recordings, tmp_path, capsys):
    absent = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda:0"
    for device, message in ((absent, f"'{absent}' asked for but"), ("tpu", "is not a device"),
                            ("cuda:x", "is not a device")):
        code = main(["predict", str(recordings[0]), "--model", str(trained["e2e_arousal"]),
                     "--out", str(tmp_path / "o"), "--device", device])
        err = capsys.readouterr().err
        assert code == 2 and "--device" in err and message in err, err
        assert not (tmp_path / "o").exists()
    assert check_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():  # on a GPU machine cuda:0 predicts like the CPU
        out = tmp_path / "gpu"
        for device in ("cpu", "cuda:0"):
            assert main(["predict", str(recordings[1]), "--model", str(trained["e2e_arousal"]),
                         "--model", str(trained["svr"]), "--out", str(out / device.replace(":", "")),
                         "--device", device]) == 0
        np.testing.assert_allclose(pd.read_csv(out / "cuda0" / "two.csv"), pd.read_csv(out / "cpu" / "two.csv"),
                                   rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- the pipeline's own systems


def test_every_system_of_the_tiny_run_in_one_call_gives_the_pipelines_test_traces(tiny_run, tmp_path):
    """`--model results/tiny/train`: every trained system (networks of both papers, the BLSTM-DRNN's chosen
    learning rate, Yang's ComParE BLSTM and the SVR) on a test recording's audio file, in one call; each column
    equals what the pipeline predicted from its cached segments and openSMILE features."""
    res = tiny_run / "results" / "tiny"
    runs = sorted(p.parent for p in (res / "train").glob("*/*/*/seed*/model.pt"))
    assert any(r.parts[-4] == "svr_egemaps" for r in runs)  # the train_svr rule writes model.pt
    pipeline = {r: pd.read_csv(r / "predictions.csv", dtype={"recording": str}) for r in runs}
    recording = sorted(pipeline[runs[0]].query("partition == 'test'")["recording"].unique())[0]
    manifest = pd.read_csv(res / "ingest" / "manifest.csv", dtype={"recording": str}).set_index("recording")
    audio = Path(manifest.loc[recording, "audio_path"])
    audio = audio if audio.is_absolute() else tiny_run / audio
    assert main(["predict", str(audio), "--model", str(res / "train"), "--no-postprocess", "--out", str(tmp_path),
                 "--device", "cpu"]) == 0
    trace = pd.read_csv(tmp_path / f"{audio.stem}.csv")
    trace["frame"] = np.round(trace["time"] / 0.04).astype(int)
    expected_columns = {"time", "frame"}
    for run in runs:
        model, objective = run.parts[-4], run.parts[-3]
        for dimension, gold in pipeline[run].query("recording == @recording").groupby("dimension"):
            column = f"{model}_{objective}_{dimension}"
            expected_columns.add(column)
            merged = gold.merge(trace[["frame", column]], on="frame")
            assert len(merged) >= len(gold) - 1 and len(merged) > 400, column
            np.testing.assert_allclose(merged[column], merged["prediction"], rtol=1e-4, atol=1e-4, err_msg=column)
    assert set(trace.columns) == expected_columns
