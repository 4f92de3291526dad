"""Benchmark (by hand, not in CI): peak memory of the stages bounded in #15 at two corpus sizes, and the ratio.

Each measurement runs in a fresh process, which reports its peak resident set (`ru_maxrss`) and its
resident set once the libraries are imported, before any data (`base`); `data` is the difference.
The goal is a ratio of `data` near 1 when the input grows `--scale` times (it would be `--scale` for a
stage that holds the whole partition). The `eager` rows replay the earlier loading (every segment file's
audio, every recording's feature rows in memory) for comparison.

- `audio dataset`: a training partition of `--recordings` recordings of `--seconds` s, tiled with the 2 s
  training hop, through one epoch of the training DataLoader (batch 50, shuffled), no network (an
  epoch's network memory is one batch's, whatever the corpus);
- `blstm6373 dataset`: the same with ComParE-6373-wide feature rows, z-normalised with train statistics;
- `svr`: `emotrace.experiment.svr_experiment` on 650 features (ComParE), `max_train_frames` 5000,
  one C, train/dev/test each of `--recordings` recordings;
- `predict`: `emotrace predict`'s path (read, preprocess, tile, batches of 16, CSV and PNG) with a
  small e2e network on a `--minutes` long file of noise.

    python bench/memory.py [--recordings 4] [--scale 4] [--seconds 60] [--minutes 5 60] [--out /tmp/memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DIMS = ["arousal", "valence"]
HOP = 50  # label frames: the papers' 2 s training hop
COMPARE6373, COMPARE = 6373, 650


def rss_mb() -> float:
    """Resident set of this process now (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Peak resident set of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- inputs (made by the parent)


def make_corpus(folder: Path, n: int, seconds: float, width: int | None) -> None:
    """`n` recordings of noise: train-tiled segment files, and feature files of `width` columns if given."""
    from emotrace.io import write_npz
    from emotrace.segments import segment_recording

    folder.mkdir(parents=True, exist_ok=True)
    frames = int(seconds / 0.04) + 1
    for i in range(n):
        rng = np.random.default_rng(i)
        name = f"r{i:03d}"
        if not (folder / f"{name}.npz").exists():
            audio = rng.standard_normal(int(seconds * 16000)).astype(np.float32)
            labels = rng.uniform(-1, 1, (frames, len(DIMS))).astype(np.float32)
            write_npz(folder / f"{name}.npz", **segment_recording(audio, labels, DIMS, name, "start", HOP))
        if width is not None and not (folder / f"{name}.feat.npz").exists():
            values = rng.standard_normal((frames, width)).astype(np.float32) * 3 + 1
            write_npz(folder / f"{name}.feat.npz", values=values)


def make_wav(path: Path, minutes: float) -> None:
    """A 16 kHz 16-bit mono file of noise, written in 1-minute blocks."""
    import soundfile as sf

    if path.exists():
        return
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", 16000, 1, "PCM_16") as fh:
        for _ in range(int(minutes)):
            fh.write((rng.standard_normal(16000 * 60) * 0.1).astype(np.float32))


# ---------------------------------------------------------------- stages (run in a child)


def stage_dataset(folder: Path, mode: str, features: bool) -> None:
    """One shuffled epoch of a training DataLoader over every recording of `folder`."""
    import torch
    from torch.utils.data import DataLoader

    from emotrace.data import SegmentDataset, load_segments
    from emotrace.models import keep_freed_memory
    from emotrace.normalise import apply_stats, fit_stats

    keep_freed_memory()  # as every training job does (build_model)
    base = rss_mb()
    files = sorted(p for p in folder.glob("r*.npz") if not p.name.endswith(".feat.npz"))
    feats = {p.stem: folder / f"{p.stem}.feat.npz" for p in files} if features else None
    normalise = None
    if features:
        stats = fit_stats((np.load(p)["values"] for p in feats.values()), [str(k) for k in range(COMPARE6373)])
        normalise = lambda v: apply_stats(v, stats)  # noqa: E731
    dataset = SegmentDataset(files, DIMS, feats, normalise)
    if mode == "eager":  # the earlier datasets: every file's audio, or every recording's normalised rows, loaded
        if features:
            dataset.feature_rows = [normalise(np.load(feats[seg.recording])["values"]) for seg in dataset.files]
        else:
            dataset.files = [load_segments(p, DIMS) for p in files]
    loader = DataLoader(dataset, batch_size=50, shuffle=True, generator=torch.Generator().manual_seed(0))
    total = 0.0
    for x, labels, mask, *_ in loader:
        total += float(x[:, :1].sum())
    report(base, items=len(dataset))


def stage_svr(folder: Path) -> None:
    """svr_experiment with train, dev and test of the recordings of `folder` each."""
    import logging

    import pandas as pd

    from emotrace.experiment import svr_experiment
    from emotrace.normalise import apply_stats, fit_stats

    base = rss_mb()
    feats = sorted(folder.glob("r*.feat.npz"))
    labels = []
    for p in feats:
        n = len(np.load(p)["values"])
        labels.append(pd.DataFrame({"recording": p.stem, "dimension": "arousal", "frame": np.arange(n),
                                    "value": np.random.default_rng(len(labels)).uniform(-1, 1, n)}))
    labels = pd.concat(labels, ignore_index=True)
    paths = feats  # recordings are named by the files' stems (r000.feat)
    stats = fit_stats((np.load(p)["values"] for p in paths), [str(k) for k in range(COMPARE)])
    settings = {"c_grid": [1e-3], "max_train_frames": 5000, "max_iter": 2000}
    parts = {"train": paths, "dev": paths, "test": paths}
    svr_experiment(settings, parts, labels, ["arousal"], lambda v: apply_stats(v, stats), 1, logging.getLogger("svr"))
    report(base, frames=len(labels))


def stage_predict(wav: Path, model: Path) -> None:
    """`emotrace predict` on one file: traces, CSV and PNG."""
    from emotrace.inference import load_predictor, plot_traces, write_trace_csv

    predictor, _ = load_predictor(model, device="cpu")
    base = rss_mb()
    prediction = predictor.predict_file(wav)
    csv = wav.with_suffix(".csv")
    write_trace_csv(prediction, csv)
    plot_traces(prediction, csv.with_suffix(".png"))
    report(base, frames=len(prediction.frames))


def report(base: float, **extra) -> None:
    print(json.dumps({"peak_mb": peak_mb(), "base_mb": base, "data_mb": peak_mb() - base, **extra}))


# ---------------------------------------------------------------- parent


def child(*args: str) -> dict:
    """Run one stage in a fresh interpreter and return its report."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def small_e2e(path: Path) -> Path:
    """A freshly initialised e2e with small layers, in the model.pt format (the memory of predict is the
    signal's and the outputs', whatever the network; its batch activations are constant)."""
    import torch

    from emotrace.models import build_model
    from emotrace.training import TrainSettings, cpu_state, model_checkpoint, save_torch

    kwargs = {"channels": 20, "second_kernel": 80, "hidden_size": 16}
    torch.manual_seed(0)
    module = build_model("e2e", len(DIMS), **kwargs)
    settings = TrainSettings(model="e2e", dimensions=DIMS, model_kwargs=kwargs)
    save_torch(model_checkpoint(settings, module, cpu_state(module), None, 0, None, None, {"seed": 0}), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recordings", type=int, default=4, help="recordings of the smaller partition")
    ap.add_argument("--scale", type=int, default=4, help="the larger partition has this many times more")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each recording")
    ap.add_argument("--minutes", type=float, nargs=2, default=[5.0, 60.0], help="lengths of the files to predict")
    ap.add_argument("--stages", nargs="+", default=["audio", "blstm6373", "svr", "predict"])
    ap.add_argument("--out", type=Path, default=None, help="folder for the generated inputs (default: a temporary one)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        stage, *rest = args.child
        if stage == "dataset":
            stage_dataset(Path(rest[0]), rest[1], rest[2] == "features")
        elif stage == "svr":
            stage_svr(Path(rest[0]))
        else:
            stage_predict(Path(rest[0]), Path(rest[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        sizes = [args.recordings, args.recordings * args.scale]
        rows = []
        for stage in args.stages:
            if stage == "predict":
                model = small_e2e(out / "e2e.pt")
                for minutes in args.minutes:
                    wav = out / f"noise_{minutes:g}min.wav"
                    make_wav(wav, minutes)
                    rows.append(("predict", "lazy", f"{minutes:g} min", child("predict", str(wav), str(model))))
                continue
            width = {"audio": None, "blstm6373": COMPARE6373, "svr": COMPARE}[stage]
            for n in sizes:
                folder = out / f"{stage}_{n}"
                make_corpus(folder, n, args.seconds, width)
                label = f"{n} x {args.seconds:g} s"
                if stage == "svr":
                    rows.append((stage, "lazy", label, child("svr", str(folder))))
                    continue
                kind = "features" if width else "audio"
                for mode in ("eager", "lazy"):
                    rows.append((f"{stage} dataset", mode, label, child("dataset", str(folder), mode, kind)))
        print(f"{'stage':<18} {'path':<6} {'input':<14} {'peak MiB':>9} {'base MiB':>9} {'data MiB':>9}")
        for stage, mode, label, r in rows:
            print(f"{stage:<18} {mode:<6} {label:<14} {r['peak_mb']:9.0f} {r['base_mb']:9.0f} {r['data_mb']:9.0f}")
        print("\nratio of data MiB, larger input / smaller input:")
        for (stage, mode) in dict.fromkeys((s, m) for s, m, _, _ in rows):
            pair = [r for s, m, _, r in rows if (s, m) == (stage, mode)]
            if len(pair) == 2:
                print(f"  {stage} ({mode}): {pair[1]['data_mb'] / max(pair[0]['data_mb'], 1.0):.2f}"
                      f"  (peak {pair[1]['peak_mb'] / pair[0]['peak_mb']:.2f})")


if __name__ == "__main__":
    main()
