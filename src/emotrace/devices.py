"""Which GPU a training job uses when several jobs share a machine with several GPUs: a lock file per device.

Snakemake's `--resources gpu=N` lets at most N GPU jobs run at once but does not say which job gets which
device, so without help every job would train on `cuda:0`. A job that sees more than one GPU (and whose
device setting is `auto`) takes the first device whose lock it can hold (`fcntl.flock`, non-blocking), keeps
it while it trains and lets it go when it ends; the kernel drops the lock when the process dies, so a killed
job never leaves a device taken. With one visible GPU (a SLURM job with `--gpus=1`, whose
CUDA_VISIBLE_DEVICES names its own device) or none, there is nothing to choose and no lock is taken.

Locks live in a node-local directory (EMOTRACE_GPU_LOCK_DIR, default `<tmp>/emotrace-gpu-locks-<uid>`; flock
on network filesystems is unreliable), one file per physical device: `<host>-gpu<id>.lock`, with `<id>` read
from CUDA_VISIBLE_DEVICES where it is set. EMOTRACE_GPU_COUNT overrides the device count torch reports (the
tests fake several GPUs with it on a CPU; a user may also hold a job to fewer devices).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from emotrace.errors import InputError

COUNT_ENV = "EMOTRACE_GPU_COUNT"
LOCK_DIR_ENV = "EMOTRACE_GPU_LOCK_DIR"
POLL_SECONDS = 5.0
"""Seconds between tries while every device is held (more GPU jobs than devices: `--resources gpu` too high)."""


def device_count() -> int:
    """GPUs this process may use: EMOTRACE_GPU_COUNT if set, else torch.cuda.device_count()."""
    value = os.environ.get(COUNT_ENV)
    if value is not None:
        try:
            count = int(value)
        except ValueError:
            count = -1
        if count < 0:
            raise InputError(COUNT_ENV, f"must be a non-negative integer, got {value!r}")
        return count
    import torch

    return torch.cuda.device_count()


def lock_dir() -> Path:
    """Where the device locks live (node-local by default)."""
    default = Path(tempfile.gettempdir()) / f"emotrace-gpu-locks-{os.getuid()}"
    return Path(os.environ.get(LOCK_DIR_ENV) or default)


def physical_ids(count: int) -> list[str]:
    """The machine's name for each visible device: CUDA_VISIBLE_DEVICES's entries where it lists them, else 0..n-1."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return visible[:count] if len(visible) >= count else [str(i) for i in range(count)]


@dataclass
class Claim:
    """A device a job holds: `device` for torch ("cuda:i" or "cpu"), and the lock held for it (None: none needed)."""

    device: str
    lock: Path | None = None
    fd: int | None = None

    def describe(self) -> str:
        return f"device {self.device}" + (f" (held through {self.lock})" if self.lock else "")

    def release(self) -> None:
        """Let another job take the device (also done by the kernel when the process ends)."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive flock on `path`, or None when another process holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
    return fd


def claim_device(setting: str = "auto", count: int | None = None, directory: str | Path | None = None,
                 log: logging.Logger | None = None, poll: float = POLL_SECONDS, timeout: float | None = None) -> Claim:
    """The device a job trains on. `setting` other than `auto` (cpu, cuda, cuda:N) is used as given; `auto` with
    no GPU is the CPU, with one GPU `cuda:0`, with several the first one no other job holds (waiting while all are
    held, up to `timeout` seconds if given). The log says which device and, when locked, through which file."""
    log = log or logging.getLogger(__name__)
    if setting != "auto":
        claim = Claim(setting)
    else:
        count = device_count() if count is None else count
        claim = Claim("cpu") if count == 0 else Claim("cuda:0") if count == 1 else _lock_one(count, directory, log,
                                                                                             poll, timeout)
    log.info("training on %s", claim.describe())
    return claim


def _lock_one(count: int, directory: str | Path | None, log: logging.Logger, poll: float,
              timeout: float | None) -> Claim:
    folder = Path(directory) if directory is not None else lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    paths = [folder / f"{host}-gpu{pid}.lock" for pid in physical_ids(count)]
    start, warned = time.monotonic(), False
    while True:
        for index, path in enumerate(paths):
            fd = try_lock(path)
            if fd is not None:
                return Claim(f"cuda:{index}", path, fd)
        if timeout is not None and time.monotonic() - start >= timeout:
            raise TimeoutError(f"all {count} GPUs stayed held by other jobs for {timeout:g} s (locks in {folder})")
        if not warned:
            log.warning("all %d GPUs are held by other jobs (locks in %s); waiting for one "
                        "(is --resources gpu larger than the number of GPUs?)", count, folder)
            warned = True
        time.sleep(poll)


def gpus_present() -> bool:
    """Whether this machine shows an NVIDIA GPU to this process, without importing torch (the Snakefile asks):
    EMOTRACE_GPU_COUNT if set, else the driver's device list, unless CUDA_VISIBLE_DEVICES hides every device."""
    if os.environ.get(COUNT_ENV) is not None:
        return device_count() > 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    driver = Path("/proc/driver/nvidia/gpus")
    return driver.is_dir() and any(driver.iterdir())
