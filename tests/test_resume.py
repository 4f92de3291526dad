"""Integration: a training killed mid-run, restarted after its inputs changed, ends where a fresh run ends;
the predictions cover every gold frame; `emotrace predict` with the model the pipeline trained.

One small generated corpus (three 12 s recordings: one per partition) and one small network
keep this short. Run 1 (alignment `start`) is killed with SIGKILL once `last.pt` exists; the
alignment is then changed to `end` and the run restarted with --rerun-incomplete (run 2); a
fresh run with `end` from the start (run 3) is the reference.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import soundfile as sf
import torch
import yaml

from conftest import REPO, SNAKEMAKE, snakemake

pytestmark = pytest.mark.integration

CONFIG = {
    "corpus": {"name": "small", "adapter": "synthetic", "root": "results/corpora/small",
               "dimensions": ["arousal", "valence"]},
    "synthetic": {"n_speakers": 3, "duration": 12, "seed": 5},
    "split": {"method": "stratified", "seed": 1},
    "seeds": [1],
    "training": {"max_epochs": 3, "patience": 3},
    "postprocess": {"median_windows": [0.4], "shifts": [0.04]},
    "figures": {"enabled": False},
    "models": {"e2e": {"network": "e2e", "objectives": ["ccc"], "joint": True, "batch_size": 4,
                       "kwargs": {"channels": 20, "second_kernel": 80, "hidden_size": 16}}},
}
RUN = "e2e/ccc/joint/seed1"
TARGET = f"results/small/evaluate/{RUN}/metrics.csv"


def write_config(workdir: Path, alignment: str) -> Path:
    config = {**CONFIG, "labels": {"alignment": alignment}}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (a hard kill, as a crash or an OOM killer would)."""
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def run_until_checkpoint(workdir: Path, config: Path) -> None:
    """Start the workflow and kill it hard as soon as training has written last.pt."""
    last = workdir / "results" / "small" / "train" / RUN / "last.pt"
    cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(config), "--cores", "1", TARGET]
    with open(workdir / "run1.out", "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 900
        while not last.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                kill_tree(proc.pid)
                raise AssertionError("run 1 ended before last.pt appeared:\n" + (workdir / "run1.out").read_text()[-4000:])
            time.sleep(0.02)
        kill_tree(proc.pid)
        proc.wait()
    assert not (last.parent / "model.pt").exists(), "training finished before the kill"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Run 1 killed, run 2 resumed with alignment `end`, run 3 fresh with `end`."""
    killed = tmp_path_factory.mktemp("killed")
    run_until_checkpoint(killed, write_config(killed, "start"))
    locked = snakemake(killed, "--configfile", str(killed / "config.yaml"), "--cores", "1", "--rerun-incomplete",
                       TARGET, check=False)
    snakemake(killed, "--unlock", "--configfile", str(killed / "config.yaml"), "--cores", "1")
    config = write_config(killed, "end")
    resumed = snakemake(killed, "--configfile", str(config), "--cores", "1", "--rerun-incomplete", TARGET)
    fresh = tmp_path_factory.mktemp("fresh")
    shutil.copytree(killed / "results" / "corpora", fresh / "results" / "corpora")  # same bytes, saves generating
    snakemake(fresh, "--configfile", str(write_config(fresh, "end")), "--cores", "1", TARGET)
    return {"killed": killed, "fresh": fresh, "locked": locked, "resumed": resumed}


def test_rerun_after_a_hard_kill_needs_unlock_as_the_readme_says(runs):
    locked = runs["locked"]
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "--unlock" in readme and "--rerun-incomplete" in readme, "the README does not say how to resume a hard kill"


def test_changed_inputs_discard_last_pt_and_match_a_fresh_run(runs):
    killed, fresh = runs["killed"] / "results" / "small", runs["fresh"] / "results" / "small"
    log = (runs["killed"] / "logs" / "small" / "train_network" / "e2e" / "ccc" / "joint" / "seed1.log").read_text()
    assert "resuming from" not in log
    assert "discarding" in log and "changed" in log, log
    hist_a = pd.read_csv(killed / "train" / RUN / "history.csv").drop(columns="seconds")
    hist_b = pd.read_csv(fresh / "train" / RUN / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(hist_a, hist_b)
    for rel in (f"train/{RUN}/predictions.csv", f"postprocess/{RUN}/predictions.csv", f"evaluate/{RUN}/metrics.csv"):
        assert (killed / rel).read_bytes() == (fresh / rel).read_bytes(), rel
    a = torch.load(killed / "train" / RUN / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(fresh / "train" / RUN / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def covered(predictions: Path, labels: Path) -> None:
    """Every gold frame of every predicted recording and dimension has exactly one prediction."""
    pred = pd.read_csv(predictions, dtype={"recording": str})
    gold = pd.read_csv(labels, dtype={"recording": str})
    gold = gold[gold["recording"].isin(set(pred["recording"]))]
    assert len(pred) == len(gold)
    merged = gold.merge(pred, on=["recording", "dimension", "frame"], how="left", suffixes=("_label", ""))
    assert merged["prediction"].notna().all(), merged[merged["prediction"].isna()].head()
    np.testing.assert_allclose(merged["gold"], merged["value"], atol=1e-6)


def test_end_alignment_predicts_every_gold_frame(runs):
    res = runs["fresh"] / "results" / "small"
    labels = res / "ingest" / "labels.csv"
    assert pd.read_csv(labels).groupby(["recording", "dimension"]).size().eq(301).all()  # 12 s: frames 0..300
    covered(res / "train" / RUN / "predictions.csv", labels)
    covered(res / "postprocess" / RUN / "predictions.csv", labels)


# ---------------------------------------------------------------- emotrace predict with the pipeline's model


def write_truncated_wav(path: Path, seconds: float, kept: float, sr: int = 16000) -> None:
    """A PCM WAV whose header declares `seconds` of audio but whose file holds only `kept` seconds."""
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)), sr, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - int((seconds - kept) * sr) * 2])


@pytest.fixture(scope="module")
def predicted(runs, tmp_path_factory):
    """`emotrace predict` on a 6 s clip, a 0.1 s clip and a truncated WAV with the end-aligned model."""
    folder = tmp_path_factory.mktemp("predict")
    sr = 22050
    t = np.arange(6 * sr) / sr
    sf.write(str(folder / "six.wav"), 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 4 * t)), sr)
    sf.write(str(folder / "blip.wav"), 0.3 * np.sin(2 * np.pi * 140 * t[: sr // 10]), sr)
    write_truncated_wav(folder / "cut.wav", 30.0, 10.0)
    model = runs["fresh"] / "results" / "small" / "train" / RUN / "model.pt"
    cmd = [sys.executable, "-m", "emotrace.cli", "predict", "--model", str(model), "--out", str(folder / "out"),
           "--device", "cpu", str(folder / "six.wav"), str(folder / "blip.wav"), str(folder / "cut.wav")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    return folder, proc


def test_predict_gives_every_label_frame(predicted):
    folder, proc = predicted
    table = pd.read_csv(folder / "out" / "six.csv")
    # 6 s has label frames 0.00 .. 6.00 s; the model pairs label k with audio (t_k - 40 ms, t_k]
    np.testing.assert_allclose(table["time"], np.arange(151) * 0.04, atol=1e-6)
    assert np.isfinite(table[["arousal", "valence"]].to_numpy()).all()


def test_predict_warns_on_a_very_short_clip(predicted):
    folder, proc = predicted
    assert (folder / "out" / "blip.csv").is_file()
    warning = [line for line in proc.stderr.splitlines() if "blip.wav" in line and "warning" in line]
    assert warning and "less than" in warning[0], proc.stderr


def test_predict_refuses_a_truncated_wav_naming_both_durations(predicted):
    folder, proc = predicted
    assert proc.returncode == 1 and not (folder / "out" / "cut.csv").exists()
    error = [line for line in proc.stderr.splitlines() if "cut.wav" in line]
    assert error and "30.00 s" in error[0] and "10.00 s" in error[0], proc.stderr


def test_predict_says_what_the_model_was_trained_on(predicted):
    folder, proc = predicted
    out = proc.stdout + proc.stderr
    assert "trained on corpus small (adapter synthetic" in out, out
    assert "split stratified" in out and "1 train" in out
    assert "generated corpus" in out and "warning" in out
