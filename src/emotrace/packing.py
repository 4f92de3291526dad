"""Several trainings of one job side by side on the GPU it holds (a learning-rate grid), each in its own process.

(The DRNN's grid is fused into one network on a GPU instead, `emotrace.fused`; this module trains the others,
and the DRNN's with `training.fuse: false`.)

A DRNN training (batch 5) keeps one GPU a few percent busy: its steps are latency bound (launches, 150
recurrent time steps in sequence), so trainings one after another leave the GPU idle most of the time. On a
GPU, `train_all` starts one spawned process per training (at most `width` at once), each running
`emotrace.training.train` exactly as it runs alone: the same seed, its own RNGs and DataLoader generator, the
same torch thread count, its own `last.pt` and output folder, so packed and one-by-one give the same
predictions (tests/test_packing.py) and a killed job resumes each training on its own. On a CPU the trainings
run one after another in this process, as before: processes would only compete for the same cores.

Each child's log records come back through a queue to the job's log, prefixed with the training's name.
The cost: one CUDA context (~0.5 GB of GPU memory) and one copy of the model, optimiser and batch per
training side by side, and interleaved lines in the job's log.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import torch

from emotrace.training import MAX_AUTO_WORKERS, TrainSettings, resolve_device, train


@dataclass
class Training:
    """One training of a job: its settings, output folder, and a short name for the log (e.g. `lr=0.001`)."""

    settings: TrainSettings
    out_dir: Path
    name: str
    kwargs: dict = field(default_factory=dict)


class Prefixed(logging.LoggerAdapter):
    """A logger whose messages start with the training's name."""

    def process(self, msg, kwargs):
        return f"[{self.extra['name']}] {msg}", kwargs


def pack_width(device: str, n: int, pack: int | str = "auto") -> int:
    """Trainings side by side: `auto` -> all n on a GPU, 1 on a CPU; an integer is taken as given (1 = sequential)."""
    if pack == "auto":
        return n if resolve_device(device).type == "cuda" else 1
    return max(1, min(int(pack), n))


def train_all(trainings: Sequence[Training], parts: dict[str, list[Path]], log: logging.Logger,
              width: int = 1) -> list[dict]:
    """Train each of `trainings` on the partitions `parts`; their summaries in order. width > 1: side by side."""
    if width <= 1 or len(trainings) <= 1:
        summaries = []
        for t in trainings:
            log.info("training %s", t.name)
            summaries.append(train(t.settings, parts["train"], parts["dev"], parts["test"], t.out_dir, log, **t.kwargs))
        return summaries
    trainings = [_share_workers(t, width) for t in trainings]
    ctx = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
    queue = ctx.Queue()
    listener = logging.handlers.QueueListener(queue, *_handlers(log), respect_handler_level=True)
    listener.start()
    log.info("training %s side by side (%d at once)", ", ".join(t.name for t in trainings), width)
    try:
        with ProcessPoolExecutor(max_workers=width, mp_context=ctx, initializer=_child_init,
                                 initargs=(queue, torch.get_num_threads())) as pool:
            futures = [pool.submit(_train_child, t, parts) for t in trainings]
            return [f.result() for f in futures]
    finally:
        listener.stop()


def _share_workers(t: Training, width: int) -> Training:
    """`num_workers: auto` on a GPU: the job's MAX_AUTO_WORKERS loading workers shared by the trainings side by
    side, not as many for each (the number of workers does not change the numbers)."""
    if t.settings.num_workers != "auto" or resolve_device(t.settings.device).type != "cuda":
        return t
    return replace(t, settings=replace(t.settings, num_workers=max(1, MAX_AUTO_WORKERS // width)))


def _handlers(log: logging.Logger) -> list[logging.Handler]:
    """The handlers that write `log`'s records (its own, else its ancestors')."""
    logger: logging.Logger | None = log
    while logger is not None:
        if logger.handlers:
            return list(logger.handlers)
        logger = logger.parent if logger.propagate else None
    return [logging.lastResort] if logging.lastResort else []


def _child_init(queue, threads: int) -> None:
    """In each child: records go to the parent's queue; the parent's thread count (same arithmetic as alone)."""
    root = logging.getLogger("emotrace.packed")
    root.handlers[:] = [logging.handlers.QueueHandler(queue)]
    root.setLevel(logging.INFO)
    root.propagate = False
    torch.set_num_threads(threads)


def _train_child(t: Training, parts: dict[str, list[Path]]) -> dict:
    log = Prefixed(logging.getLogger("emotrace.packed"), {"name": t.name})
    return train(t.settings, parts["train"], parts["dev"], parts["test"], t.out_dir, log, **t.kwargs)
