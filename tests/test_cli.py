"""The `emotrace` command line: predict (outputs, bad files among good ones, unusable models) and show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from emotrace.cli import main
from emotrace.models import build_model
from emotrace.postprocess import identity_settings
from emotrace.training import TrainSettings, cpu_state, model_checkpoint, save_torch

REPO = Path(__file__).resolve().parents[1]


def save_model(path: Path, dimensions: list[str]) -> Path:
    """Trigeorgis 2016's network (fewer, shorter filters: cheap on a CPU), freshly initialised, as model.pt."""
    kwargs = {"channels": 20, "second_kernel": 80, "hidden_size": 16}
    torch.manual_seed(0)
    module = build_model("e2e", len(dimensions), **kwargs)
    ckpt = model_checkpoint(TrainSettings(model="e2e", dimensions=dimensions, model_kwargs=kwargs), module,
                            cpu_state(module), None, 0, None, None, {"seed": 0})
    save_torch(ckpt, path)
    return path


def voiced(seconds: float, sr: int, seed: int, channels: int = 1) -> np.ndarray:
    """A generated voiced sound: harmonics of a gliding pitch under a syllable-rate envelope, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    x = 0.3 * x + 0.01 * rng.standard_normal(t.size)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"arousal": save_model(root / "arousal.pt", ["arousal"]),
            "joint": save_model(root / "joint.pt", ["arousal", "valence"])}


def test_predict_writes_csv_and_png_and_reports_bad_files(tmp_path, models, capsys):
    good_wav, good_flac = tmp_path / "in" / "one.wav", tmp_path / "in" / "two.flac"
    good_wav.parent.mkdir()
    sf.write(str(good_wav), voiced(7.5, 22050, seed=1), 22050)
    sf.write(str(good_flac), voiced(2.0, 48000, seed=2, channels=2), 48000)
    not_audio = tmp_path / "in" / "notes.wav"
    not_audio.write_text("these are not samples\n")
    empty = tmp_path / "in" / "empty.wav"
    empty.write_bytes(b"")
    out = tmp_path / "out"

    code = main(["predict", str(good_wav), str(not_audio), str(empty), str(good_flac),
                 "--model", str(models["joint"]), "--out", str(out), "--plot", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    assert "notes.wav" in captured.err and "empty.wav" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["one.csv", "one.png", "two.csv", "two.png"]
    one = pd.read_csv(out / "one.csv")
    assert list(one.columns) == ["time", "arousal", "valence"]
    assert len(one) == 188  # label frames at 0, 40 ms, ... 7.48 s
    np.testing.assert_allclose(one["time"], np.arange(188) * 0.04, atol=1e-9)
    assert np.isfinite(one[["arousal", "valence"]].to_numpy()).all()
    assert len(pd.read_csv(out / "two.csv")) == 51  # 0 .. 2.00 s: the frame at the last instant too
    assert (out / "one.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "one.wav: 7.50 s, 188 frames" in captured.out and "2 recording(s) written" in captured.out


def test_foreign_checkpoint_is_a_usage_error_naming_it(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(str(wav), voiced(1.0, 16000, seed=3), 16000)
    foreign = tmp_path / "resnet.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    assert main(["predict", str(wav), "--model", str(foreign), "--out", str(tmp_path / "o")]) == 2
    assert "resnet.pt" in capsys.readouterr().err
    text = tmp_path / "model.pt"
    text.write_text("not a checkpoint")
    assert main(["predict", str(wav), "--model", str(text), "--out", str(tmp_path / "o")]) == 2
    assert "model.pt" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_valence_from_an_arousal_model_is_refused(tmp_path, models, capsys):
    wav = tmp_path / "a.wav"
    sf.write(str(wav), voiced(1.0, 16000, seed=4), 16000)
    code = main(["predict", str(wav), "--model", str(models["arousal"]), "--dimensions", "valence",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "arousal.pt" in err and "valence" in err and "predicts only ['arousal']" in err


def test_svr_folder_and_usage_errors(tmp_path, models, capsys):
    svr = tmp_path / "svr_egemaps" / "mse" / "arousal" / "seed1"
    svr.mkdir(parents=True)
    (svr / "c_grid.csv").write_text("c,dev_ccc\n")
    assert main(["predict", str(tmp_path), "--model", str(svr)]) == 2
    assert "SVR" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--model", str(models["arousal"]), "--batch-size", "0"]) == 2
    assert main(["predict", str(tmp_path)]) == 2  # --model missing


def test_module_entry_point_predicts_a_folder(tmp_path, models):
    folder = tmp_path / "recordings"
    folder.mkdir()
    sf.write(str(folder / "x.wav"), voiced(3.0, 8000, seed=5), 8000)
    proc = subprocess.run(
        [sys.executable, "-m", "emotrace.cli", "predict", str(folder), "--model", str(models["arousal"]),
         "--out", str(tmp_path / "out"), "--no-postprocess"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "out" / "x.csv")
    assert list(table.columns) == ["time", "arousal"] and len(table) == 76
    assert "x.wav: 3.00 s, 76 frames" in proc.stdout


def test_predict_with_a_spectrogram_model_prints_no_library_warning(tmp_path):
    """Yang's `spec` model used to print PyTorch's even-kernel padding='same' warning before the results."""
    torch.manual_seed(0)
    kwargs = {"hidden_size": 8}
    module = build_model("spec", 1, **kwargs)
    ckpt = model_checkpoint(TrainSettings(model="spec", dimensions=["arousal"], model_kwargs=kwargs), module,
                            cpu_state(module), None, 0, None, None, {"seed": 0})
    save_torch(ckpt, tmp_path / "spec.pt")
    sf.write(str(tmp_path / "x.wav"), voiced(2.0, 16000, seed=6), 16000)
    proc = subprocess.run(
        [sys.executable, "-m", "emotrace.cli", "predict", str(tmp_path / "x.wav"), "--model", str(tmp_path / "spec.pt"),
         "--out", str(tmp_path / "out"), "--no-postprocess"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Warning" not in proc.stdout, proc.stderr
    assert len(pd.read_csv(tmp_path / "out" / "x.csv")) == 51


def test_show_prints_tables_and_where_outputs_are(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 1
    assert "no table" in capsys.readouterr().err
    tables = tmp_path / "synthetic" / "tables"
    tables.mkdir(parents=True)
    (tables / "trigeorgis2016_table1.md").write_text("| system | arousal |\n|---|---|\n| e2e | .700 |\n")
    (tables / "findings.md").write_text("# Findings\n\n| claim | verdict |\n|---|---|\n| W+S beats W | supported |\n")
    (tables / "yang2018_table1.md").write_text("| system | arousal |\n|---|---|\n| W+S | .600 |\n")
    (tmp_path / "synthetic" / "figures").mkdir()
    (tmp_path / "synthetic" / "figures" / "traces.png").write_bytes(b"png")
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| e2e | .700 |" in out and "trigeorgis2016_table1.md" in out
    # the findings come after both tables (make run ends with them)
    assert out.index("| e2e | .700 |") < out.index("| W+S | .600 |") < out.index("| W+S beats W | supported |")
    assert str(tables) in out and "figures" in out and "(1 files)" in out
    assert "run_cost.md" not in out
    cost = tmp_path / "synthetic" / "runcost" / "run_cost.md"
    cost.parent.mkdir()
    cost.write_text("# Run cost of synthetic\n\n| stage | jobs |\n|---|---|\n| total | 7 |\n")
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| total | 7 |" in out and str(cost) in out


def test_same_stem_twice_is_an_error_for_the_second(tmp_path, models, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        sf.write(str(tmp_path / folder / "take.wav"), voiced(1.0, 16000, seed=6), 16000)
    code = main(["predict", str(tmp_path / "a"), str(tmp_path / "b"), "--model", str(models["arousal"]),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and str(tmp_path / "b" / "take.wav") in err and "overwrite" in err
    assert (tmp_path / "out" / "take.csv").is_file()


def test_postprocess_settings_file_overrides(tmp_path, models, capsys):
    wav = tmp_path / "a.wav"
    sf.write(str(wav), voiced(2.0, 16000, seed=7), 16000)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"arousal": {**identity_settings("arousal", 0.04), "bias": 1.0}}))
    common = [str(wav), "--model", str(models["arousal"])]
    assert main(["predict", *common, "--out", str(tmp_path / "raw"), "--no-postprocess"]) == 0
    assert main(["predict", *common, "--out", str(tmp_path / "pp"), "--postprocess-settings", str(settings)]) == 0
    assert "bias +1" in capsys.readouterr().out
    raw, pp = pd.read_csv(tmp_path / "raw" / "a.csv"), pd.read_csv(tmp_path / "pp" / "a.csv")
    np.testing.assert_allclose(pp["arousal"], raw["arousal"] + 1.0, atol=1e-6)
    assert main(["predict", *common, "--no-postprocess", "--postprocess-settings", str(settings)]) == 2


def test_show_prints_the_papers_tables_before_the_beyond_table_and_findings_last(tmp_path, capsys):
    tables = tmp_path / "results" / "c" / "tables"
    tables.mkdir(parents=True)
    for name in ("all_metrics.md", "beyond_table.md", "findings.md", "trigeorgis2016_table1.md", "yang2018_table1.md"):
        (tables / name).write_text(f"{name}\n")
    assert main(["show", str(tmp_path / "results" / "c")]) == 0
    out = capsys.readouterr().out
    printed = [line for line in out.splitlines() if line.endswith(".md") and not line.startswith("##")]
    assert printed == ["trigeorgis2016_table1.md", "yang2018_table1.md", "beyond_table.md", "all_metrics.md",
                       "findings.md"]
