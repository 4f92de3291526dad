"""The SSL systems through the snakemake command, offline: a tiny random wav2vec 2.0 saved as the checkpoint.

tests/configs/ssl_tiny.yaml with ssl.checkpoint pointed at a file this test writes; the whole
DAG up to the tables, including the "beyond the papers" table. The random model only checks
the plumbing; its figures are not results.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, snakemake
from emotrace import ssl

CONFIG = REPO / "tests" / "configs" / "ssl_tiny.yaml"
RES = "results/ssl_tiny"


def write_config(workdir: Path, checkpoint: Path) -> Path:
    config = yaml.safe_load(CONFIG.read_text())
    config["ssl"]["checkpoint"] = str(checkpoint)
    path = workdir / "ssl_tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def ssl_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("ssl_tiny")
    section = yaml.safe_load(CONFIG.read_text())["ssl"]
    checkpoint = workdir / "tiny_wav2vec2.pt"
    torch.save(ssl.random_model(ssl.SSLSettings.from_config(section), seed=0).state_dict(), checkpoint)
    snakemake(workdir, "--configfile", str(write_config(workdir, checkpoint)), "--cores", "2", "--resources", "gpu=1")
    return workdir


def test_ssl_features_are_float16_rows_on_the_label_grid(ssl_run):
    labels = pd.read_csv(ssl_run / RES / "ingest" / "labels.csv", dtype={"recording": str})
    files = sorted((ssl_run / RES / "features" / "ssl").glob("*.npz"))
    assert len(files) == labels["recording"].nunique() == 6
    for path in files:
        with np.load(path) as npz:
            n_rows = (labels["recording"] == path.stem).sum() // 2
            assert npz["values"].dtype == np.float16 and npz["values"].shape == (n_rows, 2 * 32)
            assert npz["layers"].tolist() == [1, 3] and str(npz["bundle"]) == "WAV2VEC2_BASE"
            assert np.isfinite(npz["values"]).all() and npz["values"].astype(np.float32).std() > 0.1


def test_ssl_models_train_evaluate_and_fill_the_beyond_table(ssl_run):
    model = torch.load(ssl_run / RES / "train/ssl_blstm/ccc/joint/seed1/model.pt", weights_only=True)
    assert model["model"] == "ssl_blstm" and model["model_kwargs"]["n_layers"] == 2 and model["n_features"] == 64
    assert model["feature_set"] == "ssl"
    log = (ssl_run / "logs/ssl_tiny/train_network/ssl_blstm/ccc/joint/seed1.log").read_text()
    assert "learnt SSL layer weights: " in log
    metrics = pd.read_csv(ssl_run / RES / "tables" / "all_metrics.csv")
    assert set(metrics["model"]) == {"e2e", "ssl_blstm", "ssl_spec"}
    fused = torch.load(ssl_run / RES / "train/ssl_spec/ccc/joint/seed1/model.pt", weights_only=True)
    assert fused["model"] == "ssl_spec" and fused["n_features"] == 64 and fused["feature_set"] == "ssl"
    table = pd.read_csv(ssl_run / RES / "tables" / "beyond_table.csv", dtype=str)
    assert table["model"].tolist() == ["e2e", "ssl_blstm", "ssl_spec"]
    assert table["objective"].tolist() == ["ccc", "ccc", "ccc"]
    assert not table[["arousal", "valence", "arousal (raw)", "valence (raw)"]].isin(["–"]).any().any()
    # ssl_tiny's e2e is joint, Trigeorgis 2016 trains one per dimension: it is beyond the papers too
    assert table.loc[0, "system"] == "beyond: e2e on the raw signal, joint (CCC)"
    assert "WAV2VEC2_BASE" in table.loc[1, "system"] and table.loc[2, "system"].endswith("layers + S (CCC)")
    for ext in ("md", "tex"):
        assert (ssl_run / RES / "tables" / f"beyond_table.{ext}").stat().st_size > 0


def test_a_missing_checkpoint_stops_extraction_naming_the_key_and_path(ssl_run):
    absent = ssl_run / "no" / "wavlm_base_plus.pt"
    recording = sorted((ssl_run / RES / "features" / "ssl").glob("*.npz"))[0].stem
    target = f"{RES}/features/ssl/{recording}.npz"
    proc = snakemake(ssl_run, target, "--configfile", str(write_config(ssl_run, absent)), "--cores", "1",
                     "--forcerun", "extract_ssl", check=False)
    assert proc.returncode != 0
    log = (ssl_run / "logs" / "ssl_tiny" / "extract_ssl" / f"{recording}.log").read_text()
    assert f"ssl.checkpoint ({absent}): no such file" in proc.stderr + proc.stdout + log


def test_the_shipped_ssl_config_validates_and_plans_the_beyond_table(tmp_path):
    """configs/ssl.yaml as shipped (only the corpus root moved to a fixture): the schema accepts it and
    the DAG reaches the beyond table; a dry run, so no weights are needed."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    import make_corpora

    make_corpora.write_recola_full(tmp_path / "corpus", seed=1)
    config = yaml.safe_load((REPO / "configs" / "ssl.yaml").read_text())
    config["corpus"]["root"] = str(tmp_path / "corpus")
    path = tmp_path / "ssl.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--configfile", str(path), "--cores", "1")
    assert "beyond_table" in proc.stdout and "recola_ssl/tables/beyond_table.csv" in proc.stdout


def predict_cli(*args: str) -> tuple[int, str]:
    """`emotrace predict ...` in a child process (as a user runs it): exit status and stdout + stderr."""
    proc = subprocess.run([sys.executable, "-m", "emotrace.cli", "predict", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("model", ["ssl_blstm", "ssl_spec"])
def test_predict_extracts_ssl_features_as_the_pipeline_and_gives_its_test_traces(ssl_run, tmp_path, model):
    """`emotrace predict` on a test recording's audio file gives the trace the pipeline's model gave
    from the cached features (same extraction, settings from model.pt), from another folder."""
    folder = ssl_run / RES / "train" / model / "ccc" / "joint" / "seed1"
    stored = torch.load(folder / "model.pt", weights_only=True)["ssl"]
    assert stored["layers"] == [1, 3] and stored["chunk_seconds"] == 8 and Path(stored["checkpoint"]).is_absolute()
    pipeline = pd.read_csv(folder / "predictions.csv", dtype={"recording": str})
    recording = sorted(pipeline.loc[pipeline["partition"] == "test", "recording"].unique())[0]
    manifest = pd.read_csv(ssl_run / RES / "ingest" / "manifest.csv", dtype={"recording": str}).set_index("recording")
    audio = Path(manifest.loc[recording, "audio_path"])
    audio = audio if audio.is_absolute() else ssl_run / audio
    code, out = predict_cli(str(audio), "--model", str(folder), "--no-postprocess", "--out", str(tmp_path),
                            "--device", "cpu")
    assert code == 0, out
    trace = pd.read_csv(tmp_path / f"{audio.stem}.csv")
    for dimension in ("arousal", "valence"):
        expected = pipeline[(pipeline["recording"] == recording) & (pipeline["dimension"] == dimension)]
        merged = expected.merge(trace.assign(frame=np.round(trace["time"] / 0.04).astype(int)), on="frame")
        assert len(merged) >= len(expected) - 1 and len(merged) > 100
        np.testing.assert_allclose(merged[dimension], merged["prediction"], rtol=1e-4, atol=1e-4)


def test_predict_names_a_missing_ssl_checkpoint_and_takes_another(ssl_run, tmp_path):
    folder = ssl_run / RES / "train" / "ssl_blstm" / "ccc" / "joint" / "seed1"
    model = torch.load(folder / "model.pt", weights_only=True)
    weights = Path(model["ssl"]["checkpoint"])
    absent = tmp_path / "moved" / "tiny_wav2vec2.pt"
    model["ssl"]["checkpoint"] = str(absent)
    torch.save(model, tmp_path / "model.pt")
    wav = sorted((ssl_run / "results" / "corpora" / "ssl_tiny").rglob("*.wav"))[0]
    code, out = predict_cli(str(wav), "--model", str(tmp_path / "model.pt"), "--out", str(tmp_path / "o"))
    assert code == 2 and f"{absent}: no such file" in out and "--ssl-checkpoint" in out, out
    code, out = predict_cli(str(wav), "--model", str(tmp_path / "model.pt"), "--out", str(tmp_path / "o"),
                            "--ssl-checkpoint", str(weights))
    assert code == 0, out
    assert len(pd.read_csv(tmp_path / "o" / f"{wav.stem}.csv")) > 100
