"""Yang & Hirschberg 2018 Fig. 3 (bottom): LIME explanation of the spectrogram branch at the crest of a prediction.

The 3 x 40 x 600 input of the `spec` model (log-mel, delta, delta-delta for 6 s) is treated as
a 40 x 600 image with 3 channels. LIME's image explainer (`lime.lime_image`) cuts it into
rectangular time-frequency patches (default 8 mel bands x 25 frames of 10 ms: 5 x 24 = 120
patches), switches random subsets of patches off, and fits a weighted linear model of the
prediction at the crest frame on the on/off pattern. A patch switched off takes, in all three
channels at once, the segment's mean value of that channel: a flat, average spectrum with zero
deltas. The three channels are perturbed consistently, so the deltas are not recomputed.
The classifier function maps each perturbed input through `forward_from_spectrogram` to the
predicted dimension at the crest frame (LIME's regression use: one output column, label 0).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from lime.lime_image import LimeImageExplainer
from matplotlib.patches import Patch, Rectangle

from emotrace.data import Segments, load_segments
from emotrace.errors import InputError
from emotrace.figures import Output, Rule, longest_recording, new_figure, require_input, save_figure
from emotrace.io import write_csv
from emotrace.segments import SEGMENT_FRAMES
from emotrace.training import TrainedModel, load_model

STEP = 0.04  # s per label frame
SPEC_HOP = 0.01  # s per spectrogram frame
PATCH = (8, 25)  # mel bands x spectrogram frames


@dataclass
class LimeResult:
    """A LIME explanation of one crest: the segment, the model's trace and the weight of every patch."""

    recording: str
    dimension: str
    frame0: int  # label frame of the segment's first frame
    crest: int  # frame within the segment (0..149)
    prediction: np.ndarray  # (150,) model output for `dimension` on the unperturbed segment
    gold: np.ndarray  # (150,)
    mask: np.ndarray  # (150,) bool
    spectrogram: np.ndarray  # (3, 40, F) the model's input
    patches: np.ndarray  # (40, F) patch id of every time-frequency bin
    weights: np.ndarray  # (n_patches,) LIME weight of each patch (prediction units per patch kept)
    intercept: float
    score: float  # R^2 of LIME's weighted linear fit
    num_samples: int
    seed: int

    def patch_table(self) -> pd.DataFrame:
        """One row per patch: bands, frames, times and weight, sorted by patch id."""
        rows = []
        for pid in range(len(self.weights)):
            bands, frames = np.nonzero(self.patches == pid)
            rows.append({"patch": pid, "band_lo": int(bands.min()), "band_hi": int(bands.max()),
                         "frame_lo": int(frames.min()), "frame_hi": int(frames.max()),
                         "time_lo": round(frames.min() * SPEC_HOP, 3), "time_hi": round((frames.max() + 1) * SPEC_HOP, 3),
                         "weight": float(self.weights[pid])})
        return pd.DataFrame(rows)


def patch_grid(n_bands: int, n_frames: int, patch: tuple[int, int] = PATCH) -> np.ndarray:
    """Patch id of every (band, frame): rectangles of patch[0] bands x patch[1] frames, numbered row by row."""
    pb, pf = patch
    if pb < 1 or pf < 1:
        raise InputError("lime patch", f"patch size must be positive, got {patch}")
    per_row = -(-n_frames // pf)
    return (np.arange(n_bands)[:, None] // pb) * per_row + (np.arange(n_frames)[None, :] // pf)


def choose_segment(segments: Segments, dim: int) -> int:
    """Index of the full segment with the largest gold range of dimension `dim` (all segments if none is full)."""
    full = np.flatnonzero(segments.mask.all(axis=1))
    candidates = full if full.size else np.arange(len(segments))
    ranges = []
    for i in candidates:
        g = segments.labels[i, segments.mask[i], dim]
        ranges.append(float(g.max() - g.min()) if g.size else 0.0)
    return int(candidates[int(np.argmax(ranges))])


def _check_spec_model(module: torch.nn.Module, name: str) -> None:
    for method in ("spectrogram", "forward_from_spectrogram"):
        if not hasattr(module, method):
            raise InputError(f"model {name!r}", f"has no {method}(); LIME needs a spectrogram model (spec)")


def explain_crest(
    trained: TrainedModel,
    segment_file: str | Path,
    dimension: str = "valence",
    start_frame: int | None = None,
    crest: str = "max",
    num_samples: int = 300,
    patch: tuple[int, int] = PATCH,
    seed: int = 1,
    batch_size: int = 50,
    device: str = "cpu",
) -> LimeResult:
    """LIME weights of the spectrogram patches for the model's `dimension` output at the segment's crest.

    The segment starts at label frame `start_frame`, or is the full one with the largest gold
    range; the crest is the frame of the highest (`crest="max"`) or lowest (`"min"`) prediction.
    """
    module = trained.module.to(device).eval()
    _check_spec_model(module, trained.name)
    if dimension not in trained.dimensions:
        raise InputError(f"model {trained.name!r}", f"predicts {trained.dimensions}, not {dimension!r}")
    if crest not in ("max", "min"):
        raise InputError("crest", f"must be 'max' or 'min', got {crest!r}")
    segments = load_segments(segment_file, [dimension])
    if start_frame is None:
        index = choose_segment(segments, 0)
    else:
        hits = np.flatnonzero(segments.frame0 == start_frame)
        if not hits.size:
            raise InputError(segment_file, f"no segment starts at label frame {start_frame}; starts: {segments.frame0.tolist()}")
        index = int(hits[0])
    dim = trained.dimensions.index(dimension)
    mask = segments.mask[index]

    with torch.no_grad():
        x = torch.from_numpy(segments.audio[index : index + 1]).to(device)
        spec = module.spectrogram(x)
        prediction = module.forward_from_spectrogram(spec)[0, :, dim].float().cpu().numpy()
    spec = spec[0].float().cpu().numpy()
    if spec.ndim != 3 or spec.shape[0] != 3 or prediction.shape != (SEGMENT_FRAMES,):
        raise RuntimeError(f"spectrogram {spec.shape} / prediction {prediction.shape}: expected (3, 40, F) and ({SEGMENT_FRAMES},)")
    valid = np.flatnonzero(mask)
    pick = np.argmax if crest == "max" else np.argmin
    crest_frame = int(valid[pick(prediction[valid])])

    patches = patch_grid(spec.shape[1], spec.shape[2], patch)
    image = np.ascontiguousarray(spec.transpose(1, 2, 0), dtype=np.float64)  # (40, F, 3): LIME's H x W x C
    channel_means = tuple(float(v) for v in image.reshape(-1, 3).mean(axis=0))

    def classifier(images: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)).to(device)
        with torch.no_grad():
            out = module.forward_from_spectrogram(batch)
        return out[:, crest_frame, dim : dim + 1].double().cpu().numpy()

    explainer = LimeImageExplainer(random_state=seed)
    n_patches = int(patches.max()) + 1
    with contextlib.redirect_stderr(io.StringIO()):  # LIME draws a tqdm progress bar per call
        explanation = explainer.explain_instance(
            image, classifier, labels=(0,), top_labels=None, hide_color=channel_means,
            num_features=n_patches, num_samples=num_samples, batch_size=batch_size,
            segmentation_fn=lambda _: patches, random_seed=seed,
        )
    weights = np.zeros(n_patches)
    for pid, w in explanation.local_exp[0]:
        weights[pid] = w
    return LimeResult(
        recording=segments.recording, dimension=dimension, frame0=int(segments.frame0[index]), crest=crest_frame,
        prediction=prediction, gold=segments.labels[index, :, 0].astype(np.float64), mask=mask.copy(),
        spectrogram=spec, patches=patches, weights=weights, intercept=float(explanation.intercept[0]),
        score=float(explanation.score), num_samples=num_samples, seed=seed,
    )


def plot_lime(result: LimeResult, output: Output, top_k: int = 5, model_label: str = "S only",
              why: str | None = None) -> list[Path]:
    """Three panels: the model's trace and gold with the crest, the log-mel spectrogram with the top
    `top_k` positive and negative patches outlined, and the map of every patch's LIME weight."""
    fig = new_figure(10, 8.5)
    ax_trace, ax_spec, ax_w = fig.subplots(3, 1, sharex=True, height_ratios=[1, 1.3, 1.3])
    t = (np.arange(SEGMENT_FRAMES) + 0.5) * STEP
    crest_t = t[result.crest]
    m = result.mask
    ax_trace.plot(t[m], result.gold[m], color="tab:blue", linewidth=2, label="gold standard")
    ax_trace.plot(t[m], result.prediction[m], color="red", linestyle=":", linewidth=1.8, label=model_label)
    ax_trace.plot([crest_t], [result.prediction[result.crest]], marker="v", color="black", markersize=9,
                  linestyle="none", label=f"explained crest ({crest_t:.2f} s)")
    ax_trace.set_ylabel(f"{result.dimension}\n(rating, -1 to 1)")
    ax_trace.margins(y=0.15)
    ax_trace.legend(loc="best", fontsize="small", ncol=3)
    ax_trace.grid(True, alpha=0.3)

    n_bands, n_frames = result.patches.shape
    extent = (0, n_frames * SPEC_HOP, 0, n_bands)
    im = ax_spec.imshow(result.spectrogram[0], origin="lower", aspect="auto", extent=extent, cmap="magma")
    fig.colorbar(im, ax=ax_spec, label="log-mel (model input units)")
    order = np.argsort(result.weights)
    positive = [p for p in order[::-1][:top_k] if result.weights[p] > 0]
    negative = [p for p in order[:top_k] if result.weights[p] < 0]
    for pids, colour in ((positive, "lime"), (negative, "cyan")):
        for pid in pids:
            bands, frames = np.nonzero(result.patches == pid)
            ax_spec.add_patch(Rectangle((frames.min() * SPEC_HOP, bands.min()), (frames.max() + 1 - frames.min()) * SPEC_HOP,
                                        bands.max() + 1 - bands.min(), fill=False, edgecolor=colour, linewidth=2))
    ax_spec.legend(handles=[Patch(fill=False, edgecolor="lime", linewidth=2, label=f"top {len(positive)} raising the crest"),
                            Patch(fill=False, edgecolor="cyan", linewidth=2, label=f"top {len(negative)} lowering it")],
                   loc="upper right", fontsize="small", ncol=2)
    ax_spec.set_ylabel("mel band (low to high)")

    wmap = result.weights[result.patches]
    vmax = float(np.abs(result.weights).max()) or 1.0
    im_w = ax_w.imshow(wmap, origin="lower", aspect="auto", extent=extent, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    fig.colorbar(im_w, ax=ax_w, label=f"LIME weight ({result.dimension} per patch kept)")
    ax_w.set_ylabel("mel band (low to high)")
    ax_w.set_xlabel("time in the segment (s)")
    for ax in (ax_trace, ax_spec, ax_w):
        ax.axvline(crest_t, color="white" if ax is ax_spec else "black", linestyle="--", linewidth=1)
    ax_trace.set_xlim(0, SEGMENT_FRAMES * STEP)
    start = result.frame0 * STEP
    fig.suptitle(f"LIME explanation of the {result.dimension} crest of the spectrogram model ({model_label}), "
                 f"recording {result.recording}, {start:.2f}-{start + SEGMENT_FRAMES * STEP:.2f} s"
                 + (f"\n({why})" if why else "")
                 + f"\n{len(result.weights)} patches, {result.num_samples} samples, seed {result.seed}, "
                   f"local fit R² {result.score:.2f}"
                 + (" (fewer samples than patches: the fit is underdetermined)"
                    if result.num_samples <= len(result.weights) else ""))
    return save_figure(fig, output)


def lime_figure(
    model: str | Path | TrainedModel,
    segment_files: Sequence[str | Path],
    output: Output,
    csv: str | Path | None = None,
    recording: str | None = None,
    dimension: str = "valence",
    start_frame: int | None = None,
    num_samples: int = 300,
    patch: tuple[int, int] = PATCH,
    seed: int = 1,
    top_k: int = 5,
    rule: Rule = None,
    device: str = "cpu",
    batch_size: int = 50,
) -> LimeResult:
    """Yang Fig. 3 (bottom) for `recording` or the recording with the most frames among `segment_files`.

    Writes the figure and, if `csv` is given, the patch table (LimeResult.patch_table).
    `rule` names the rule(s) that make the inputs (one name, or a mapping with keys 'model' and 'segments').
    """
    path = longest_recording(segment_files, rule, recording)
    trained = model if isinstance(model, TrainedModel) else load_model(require_input(model, rule, "model"))
    result = explain_crest(trained, path, dimension, start_frame, num_samples=num_samples, patch=patch, seed=seed,
                           batch_size=batch_size, device=device)
    why = [("recording chosen by the caller" if recording else "the given recording with the most frames"),
           ("segment chosen by the caller" if start_frame is not None else "the full 6 s segment with the largest gold range")]
    plot_lime(result, output, top_k=top_k, why="; ".join(why))
    if csv is not None:
        write_csv(result.patch_table(), csv)
    return result
