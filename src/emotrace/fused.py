"""A DRNN job's learning rates trained as one network: k copies of the BLSTM side by side in one batched LSTM.

A DRNN step (batch 5, 3 BLSTM layers of 64) is latency bound on a GPU: its kernels keep the device busy a
fraction of the step, so three trainings in three processes (`emotrace.packing`) fill a time-sliced GPU with
three streams of tiny kernels. Here the k trainings of a job (same seed, data, batches and input noise; only
the learning rate differs) run as one stream: each layer is one cuDNN LSTM of hidden k x 64 whose weights are
assembled, every step, from the k networks' own parameters into block-diagonal matrices (an exact
multiplication by an identity: a training never sees another's units). So one process launches the kernels of
one training and does the arithmetic of k, and the job takes about one training's share of the GPU; other jobs
fill the rest.

Each training keeps its own parameters, optimiser, early stopping, last.pt and outputs, in the same files and
formats as alone (`emotrace.training`): a training that stops early is finished (model.pt, predictions) and
leaves the batch, and a killed job resumes each training from its own last.pt. Predictions agree with one by
one to float rounding, not bit for bit: the fused matrix products sum in another order (tests/test_fused.py
measures it). `training.fuse: false` keeps the processes side by side, identical to one by one.
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import replace
from itertools import groupby
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from emotrace.errors import InputError
from emotrace.gpucost import FUSABLE, fused
from emotrace.losses import OBJECTIVES
from emotrace.models.recurrent import BLSTMDRNN
from emotrace.packing import Prefixed, Training
from emotrace.training import (OPTIMIZERS, dev_scores, fingerprint, finish, finished, load_torch, record_epoch,
                               resolve_device, resume_state, set_up, train_epoch, RESUME_FORMAT)

KWARGS = {"features", "normalise", "feature_set", "feature_stats", "trained_on", "ssl_settings"}
"""The arguments of `emotrace.training.train` a fused run passes on (per-epoch callbacks are not)."""
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")  # assembled per step


def fuses(network: str, device: str, n: int, fuse: bool | str = "auto") -> bool:
    """Whether a job's n trainings of `network` train as one on `device` (`gpucost.fused`): `auto` -> on a GPU;
    true -> anywhere (tests, CPU comparisons); false -> never."""
    return fused(network, n, fuse, resolve_device(device).type == "cuda")


class FusedDRNN(nn.Module):
    """k BLSTMDRNNs of one shape run as one: outputs (k, B, T, D), member j's from member j's parameters only.

    `members` stay ordinary BLSTMDRNN modules (their state_dicts are those of a training alone); `active`
    selects the members a forward pass computes (the others have stopped)."""

    side_by_side = True

    def __init__(self, members: Sequence[BLSTMDRNN]):
        super().__init__()
        first = members[0]
        shape = _shape(first)
        for m in members:
            if not isinstance(m, BLSTMDRNN) or _shape(m) != shape:
                raise InputError("fused training", f"members must be BLSTMDRNNs of one shape, got {_shape(m)} and {shape}")
        if not first.rnn.bidirectional:
            raise InputError("fused training", "only bidirectional DRNNs can be fused")
        self.members = nn.ModuleList(members)
        self.active = list(range(len(members)))
        self._templates: dict[tuple[int, int], nn.LSTM] = {}

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """Each active member's parameters (gradient clipping is per training)."""
        return [list(self.members[j].parameters()) for j in self.active]

    def forward(self, x: Tensor) -> Tensor:
        members = [self.members[j] for j in self.active]
        k, first = len(members), members[0]
        h = first.frame_features(x)  # the input noise, drawn once: every member alone draws the same
        for i in range(first.rnn.num_layers):
            h, _ = functional_call(self._template(i, k, h.shape[-1]), _layer_weights(members, i), (h,))
        hidden, n_out = first.rnn.hidden_size, first.output.out_features
        eye = torch.eye(k, dtype=h.dtype, device=h.device)
        weight = torch.stack([m.output.weight for m in members]).view(k, n_out, 2, hidden)
        weight = torch.einsum("jodb,jl->jodlb", weight, eye.to(weight.dtype)).reshape(k * n_out, 2 * k * hidden)
        bias = torch.cat([m.output.bias for m in members])
        y = nn.functional.linear(first.output_dropout(h), weight, bias)
        return y.view(*y.shape[:-1], k, n_out).movedim(-2, 0)

    def _template(self, layer: int, k: int, inputs: int) -> nn.LSTM:
        """An LSTM of hidden k x H without storage (meta device), called with the assembled weights."""
        if (layer, k) not in self._templates:
            hidden = self.members[0].rnn.hidden_size
            self._templates[layer, k] = nn.LSTM(inputs, k * hidden, batch_first=True, bidirectional=True,
                                                device="meta")
        return self._templates[layer, k]


def _shape(m: nn.Module) -> tuple:
    rnn = getattr(m, "rnn", None)
    return (type(m).__name__, getattr(m, "n_features", None), getattr(rnn, "hidden_size", None),
            getattr(rnn, "num_layers", None), getattr(getattr(m, "output", None), "out_features", None),
            getattr(m, "noise_std", None))


def _layer_weights(members: Sequence[BLSTMDRNN], i: int) -> dict[str, Tensor]:
    """Layer i's weights of the k members as one bidirectional LSTM of hidden k x H: gate rows [i f g o] each
    member by member; recurrent (and, above the first layer, input) weights block-diagonal by member."""
    k, hidden = len(members), members[0].rnn.hidden_size
    weights = {}
    for suffix in ("_l0", "_l0_reverse"):
        def stacked(name: str) -> Tensor:
            return torch.stack([getattr(m.rnn.layers[i], name + suffix) for m in members])
        w_ih, w_hh = stacked("weight_ih"), stacked("weight_hh")
        eye = torch.eye(k, dtype=w_ih.dtype, device=w_ih.device)
        if i == 0:  # every member reads the same input
            w_ih = w_ih.view(k, 4, hidden, -1).transpose(0, 1).reshape(4 * k * hidden, -1)
        else:  # member j reads its own forward and backward outputs of the layer below
            w_ih = torch.einsum("jqadb,jl->qjadlb", w_ih.view(k, 4, hidden, 2, hidden), eye)
            w_ih = w_ih.reshape(4 * k * hidden, 2 * k * hidden)
        w_hh = torch.einsum("jqab,jl->qjalb", w_hh.view(k, 4, hidden, hidden), eye).reshape(4 * k * hidden, k * hidden)
        weights["weight_ih" + suffix], weights["weight_hh" + suffix] = w_ih, w_hh
        for name in ("bias_ih", "bias_hh"):
            weights[name + suffix] = stacked(name).view(k, 4, hidden).transpose(0, 1).reshape(-1)
    return weights


class Optimizers:
    """The active trainings' optimisers, stepped together (each with its own learning rate and state)."""

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer]):
        self.optimizers = list(optimizers)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()


class MemberLosses:
    """The objective of each member's outputs against the same labels: a vector of k losses."""

    def __init__(self, objective: str):
        self.loss_fn = OBJECTIVES[objective]

    def __call__(self, y: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        return torch.stack([self.loss_fn(y_j, labels, mask) for y_j in y])


def check_fusable(trainings: Sequence[Training]) -> None:
    """The trainings of one fused run must differ in their learning rate only."""
    first = trainings[0]
    for t in trainings[1:]:
        if replace(t.settings, lr=first.settings.lr) != first.settings or t.kwargs.keys() != first.kwargs.keys():
            raise InputError("fused training", f"{t.name} differs from {first.name} in more than its learning rate")
    unknown = set(first.kwargs) - KWARGS
    if unknown:
        raise InputError("fused training", f"cannot pass {sorted(unknown)} to trainings side by side")
    if first.settings.model not in FUSABLE:
        raise InputError("fused training", f"network {first.settings.model!r} cannot be fused; fusable: {sorted(FUSABLE)}")


def saved_epoch(path: Path, key: str) -> int:
    """The epoch at which a training's last.pt resumes it (0 without one, or one `resume_state` would discard):
    trainings resumed together must agree on it."""
    if not path.exists():
        return 0
    saved = load_torch(path, "emotrace resume checkpoint")
    return int(saved["epoch"]) if saved.get("format") == RESUME_FORMAT and saved.get("fingerprint") == key else 0


def fingerprints(trainings: Sequence[Training], parts: dict[str, list[Path]]) -> list[str]:
    """Each training's `emotrace.training.fingerprint`, as `train` computes it alone."""
    return [fingerprint(t.settings, parts["train"], parts["dev"], t.kwargs.get("feature_set"), parts["test"],
                        t.kwargs.get("features"), t.kwargs.get("feature_stats")) for t in trainings]


def train_fused(trainings: Sequence[Training], parts: dict[str, list[Path]], log: logging.Logger) -> list[dict]:
    """Train `trainings` (one job's learning rates) as one network; their summaries in order. Trainings whose
    last.pt files end at different epochs (a killed job whose trainings had finished at different times)
    resume in groups, one after another, each group fused."""
    check_fusable(trainings)
    keys = fingerprints(trainings, parts)
    epochs = [saved_epoch(t.out_dir / "last.pt", key) for t, key in zip(trainings, keys)]
    summaries: dict[int, dict] = {}
    for epoch, group in groupby(sorted(range(len(trainings)), key=epochs.__getitem__), key=epochs.__getitem__):
        group = list(group)
        log.info("training %s as one network%s", ", ".join(trainings[j].name for j in group),
                 f", resuming after epoch {epoch}" if epoch else "")
        summaries.update(zip(group, _train_group([trainings[j] for j in group], [keys[j] for j in group], parts, log)))
    return [summaries[j] for j in range(len(trainings))]


def _train_group(trainings: Sequence[Training], keys: Sequence[str], parts: dict[str, list[Path]],
                 log: logging.Logger) -> list[dict]:
    """The fused loop: `emotrace.training.train`'s, with k members; a member that stops is finished at once."""
    first = trainings[0]
    settings, kwargs = first.settings, first.kwargs
    feature_args = {key: kwargs.get(key) for key in ("features", "normalise")}
    stored = {key: kwargs.get(key) for key in ("feature_set", "feature_stats", "trained_on", "ssl_settings")}
    logs = [Prefixed(log, {"name": t.name}) for t in trainings]
    for t in trainings:
        t.out_dir.mkdir(parents=True, exist_ok=True)
    setup = set_up(settings, parts["train"], parts["dev"], parts["test"], log, **feature_args)
    members = [setup.model] + [copy.deepcopy(setup.model) for _ in trainings[1:]]  # the same initial weights
    model = FusedDRNN(members)
    optimizers = [OPTIMIZERS[t.settings.optimizer](m.parameters(), lr=t.settings.lr) for t, m in zip(trainings, members)]
    loader, generator = setup.loader(settings)
    states = [resume_state(t.out_dir / "last.pt", key, m, opt, generator, lg)
              for t, key, m, opt, lg in zip(trainings, keys, members, optimizers, logs)]
    loss_fn = MemberLosses(settings.objective)
    summaries: dict[int, dict] = {}

    def finish_member(j: int) -> None:
        # a DataLoader draws its seed from the global RNG: finishing one training must not move the others' noise
        with torch.random.fork_rng(devices=[setup.device] if setup.device.type == "cuda" else []):
            summaries[j] = finish(trainings[j].settings, setup, members[j], states[j], trainings[j].out_dir, logs[j],
                                  **stored)

    active = [j for j, t in enumerate(trainings) if not finished(states[j], t.settings)]
    for j in sorted(set(range(len(trainings))) - set(active)):  # resumed after its last epoch
        finish_member(j)
    while active:
        model.active = active
        epoch = states[active[0]]["epoch"] + 1
        start = time.perf_counter()
        losses = train_epoch(model, loader, loss_fn, Optimizers([optimizers[j] for j in active]), setup.device,
                             settings.grad_clip, epoch, settings.precision, setup.options.non_blocking,
                             [trainings[j].name for j in active])
        outputs = setup.evaluate(model, setup.dev_set, settings.precision)
        seconds = time.perf_counter() - start
        for j, loss, out in zip(active, losses, outputs):
            record_epoch(states[j], epoch, float(loss), dev_scores(setup.dev_set, out), seconds, trainings[j].settings,
                         members[j], optimizers[j], generator, keys[j], trainings[j].out_dir, logs[j])
        for j in [j for j in active if finished(states[j], trainings[j].settings)]:
            finish_member(j)
            active.remove(j)
    return [summaries[j] for j in range(len(trainings))]
