"""Which GPU a training job uses, and how much of it: share slots per device, held through lock files.

Snakemake's `--resources gpu=N` lets at most N GPU jobs run at once but does not say which job gets which
device, so without help every job would train on `cuda:0`; and a small (latency-bound) training keeps a GPU a
few percent busy, so one job per GPU leaves most of it idle. Each device therefore has SLOTS share slots, one
lock file each (`fcntl.flock`, non-blocking): a job takes the slots of its share of one device (`slots_for`;
all of them: the device to itself), keeps them while it trains and lets them go when it ends; the kernel drops
the locks when the process dies, so a killed job never leaves a device taken. A job that finds no device with
enough free slots waits, and after its first try holds the device's gate so that jobs arriving later do not take
the slots it waits for (first come, first served; a large job is not starved by a stream of small ones).

When a job takes locks: on a machine where jobs share GPUs (a local run with a GPU: the rule's `gpu_slots`
resource, `emotrace.resources.train_placement`), always, even with one GPU; otherwise (`slots=None`) only when
it sees more than one GPU, and then a whole device. With one visible GPU under a cluster executor (a SLURM job
with `--gpus=1`, whose CUDA_VISIBLE_DEVICES names its own device) or none, there is nothing to choose or share
and no lock is taken.

Locks live in a node-local directory (EMOTRACE_GPU_LOCK_DIR, default `<tmp>/emotrace-gpu-locks-<uid>`; flock
on network filesystems is unreliable): `<host>-gpu<id>.slot<j>.lock` and `<host>-gpu<id>.gate`, with `<id>` read
from CUDA_VISIBLE_DEVICES where it is set. EMOTRACE_GPU_COUNT overrides the device count torch reports (the
tests fake GPUs with it on a CPU; a user may also hold a job to fewer devices), EMOTRACE_GPU_MEMORY_MB the memory
nvidia-smi reports; EMOTRACE_GPU_SHARING says how jobs share a GPU (`sharing_mode`).
"""

from __future__ import annotations

import fcntl
import functools
import logging
import math
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from emotrace.errors import InputError

COUNT_ENV = "EMOTRACE_GPU_COUNT"
LOCK_DIR_ENV = "EMOTRACE_GPU_LOCK_DIR"
SHARING_ENV = "EMOTRACE_GPU_SHARING"
MEMORY_ENV = "EMOTRACE_GPU_MEMORY_MB"
POLL_SECONDS = 5.0
"""Seconds between tries while no device has the slots a job needs."""
SLOTS = 20
"""Share slots per device: a job's share of a GPU is taken in twentieths (5 % each)."""
MPS_PIPE_DEFAULT = "/tmp/nvidia-mps"


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


def slots_for(share: float) -> int:
    """Share slots for a share of a device (0 < share <= 1): rounded up, at least one, at most SLOTS."""
    if not 0 < share <= 1:
        raise InputError("gpu share", f"must be in (0, 1], got {share!r}")
    return min(SLOTS, max(1, math.ceil(share * SLOTS - 1e-9)))


@dataclass
class Claim:
    """A device a job holds: `device` for torch ("cuda:i" or "cpu"), the slots it holds of it (`slots` of SLOTS)
    and the lock files and descriptors that hold them (none needed: empty)."""

    device: str
    slots: int = 0
    locks: list[Path] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    @property
    def lock(self) -> Path | None:
        """The first lock file held (None: no lock)."""
        return self.locks[0] if self.locks else None

    def describe(self) -> str:
        if not self.locks:
            return f"device {self.device}"
        share = "the whole device" if self.slots >= SLOTS else f"{self.slots} of its {SLOTS} share slots"
        return f"device {self.device}, {share} (held through {self.locks[0].parent}/{_slot_pattern(self.locks[0])})"

    def release(self) -> None:
        """Let other jobs take the slots (also done by the kernel when the process ends)."""
        for fd in self.fds:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self.fds = []

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _slot_pattern(path: Path) -> str:
    """`<host>-gpu<id>.slot*.lock` for one of a device's slot files."""
    return path.name.rsplit(".slot", 1)[0] + ".slot*.lock"


def try_lock(path: Path, mode: int = fcntl.LOCK_EX) -> int | None:
    """An open descriptor holding a flock (`mode`) on `path`, or None when another process holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if mode == fcntl.LOCK_EX:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
    return fd


def claim_device(setting: str = "auto", count: int | None = None, directory: str | Path | None = None,
                 log: logging.Logger | None = None, poll: float = POLL_SECONDS, timeout: float | None = None,
                 slots: int | None = None) -> Claim:
    """The device a job trains on. `setting` other than `auto` (cpu, cuda, cuda:N) is used as given; `auto` with
    no GPU is the CPU. With GPUs: `slots` (1..SLOTS, on a machine where jobs share GPUs) of the first device that
    has them free; `slots=None` (no sharing here): with one GPU `cuda:0` and no lock, with several the first
    device no other job holds any of. A job waits while no device has its slots free (up to `timeout` seconds if
    given). The log says which device, its share and the lock files."""
    log = log or logging.getLogger(__name__)
    if slots is not None and not 1 <= slots <= SLOTS:
        raise InputError("gpu_slots", f"must be between 1 and {SLOTS}, got {slots!r}")
    if setting != "auto":
        claim = Claim(setting)
    else:
        count = device_count() if count is None else count
        if count == 0:
            claim = Claim("cpu")
        elif count == 1 and slots is None:
            claim = Claim("cuda:0")
        else:
            claim = _lock_slots(count, SLOTS if slots is None else slots, directory, log, poll, timeout)
    log.info("training on %s", claim.describe())
    return claim


def _lock_slots(count: int, n: int, directory: str | Path | None, log: logging.Logger, poll: float,
                timeout: float | None) -> Claim:
    folder = Path(directory) if directory is not None else lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    bases = [folder / f"{host}-gpu{pid}" for pid in physical_ids(count)]
    start, gate, gated = time.monotonic(), None, -1
    try:
        while True:
            for index, base in enumerate(bases):
                if index != gated and _gated(base):
                    continue  # a job that came earlier waits for this device's slots
                held = _take_slots(base, n)
                if held is not None:
                    return Claim(f"cuda:{index}", n, *held)
            if timeout is not None and time.monotonic() - start >= timeout:
                raise TimeoutError(f"no GPU had {n} of its {SLOTS} share slots free for {timeout:g} s: all {count} "
                                   f"held by other jobs (locks in {folder})")
            if gate is None:
                for index, base in enumerate(bases):
                    gate = try_lock(base.with_name(base.name + ".gate"))
                    if gate is not None:
                        gated = index
                        log.info("no GPU has %d of its %d share slots free (locks in %s): waiting, first in line "
                                 "for cuda:%d (other jobs hold the slots; with whole devices, is --resources gpu "
                                 "larger than the number of GPUs?)", n, SLOTS, folder, index)
                        break
            time.sleep(poll)
    finally:
        if gate is not None:
            fcntl.flock(gate, fcntl.LOCK_UN)
            os.close(gate)


def _gated(base: Path) -> bool:
    """Whether a waiting job holds the device's gate."""
    fd = try_lock(base.with_name(base.name + ".gate"), fcntl.LOCK_SH)
    if fd is None:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    return False


def _take_slots(base: Path, n: int) -> tuple[list[Path], list[int]] | None:
    """n of the device's free slots (their paths and descriptors), or None, holding none, when fewer are free."""
    paths, fds = [], []
    for j in range(SLOTS):
        path = base.with_name(f"{base.name}.slot{j:02d}.lock")
        fd = try_lock(path)
        if fd is not None:
            paths.append(path)
            fds.append(fd)
            if len(fds) == n:
                return paths, fds
    for fd in fds:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return None


def sharing_mode() -> str:
    """How jobs share a GPU on this machine: EMOTRACE_GPU_SHARING (`time`, `mps`, `off`) if set, else (`auto`)
    `mps` while an NVIDIA MPS control daemon runs here (`mps_running`), else `time` (time-sliced: kernels of
    different processes take turns). `off`: every GPU job has a device to itself, as before sharing."""
    value = os.environ.get(SHARING_ENV, "auto").strip().lower() or "auto"
    if value not in ("auto", "time", "mps", "off"):
        raise InputError(SHARING_ENV, f"must be auto, time, mps or off, got {value!r}")
    if value == "auto":
        return "mps" if mps_running() else "time"
    return value


def mps_running() -> bool:
    """Whether an NVIDIA MPS control daemon runs on this machine and listens where CUDA clients look for it
    (CUDA_MPS_PIPE_DIRECTORY, default /tmp/nvidia-mps): its process and its `control` pipe."""
    pipe = Path(os.environ.get("CUDA_MPS_PIPE_DIRECTORY") or MPS_PIPE_DEFAULT) / "control"
    try:
        if not stat.S_ISFIFO(pipe.stat().st_mode):
            return False
    except OSError:
        return False
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "nvidia-cuda-mps":  # the kernel keeps 15 characters of the name
                return True
        except OSError:
            continue
    return False


@functools.lru_cache(maxsize=1)
def gpu_memory_mb() -> float | None:
    """Memory (MiB) of the smallest GPU: EMOTRACE_GPU_MEMORY_MB if set (with EMOTRACE_GPU_COUNT it fakes a GPU on a
    CPU), else from nvidia-smi; None where it cannot be read (then jobs do not share: their shares' memory is
    unknown)."""
    value = os.environ.get(MEMORY_ENV)
    if value is not None:
        try:
            return float(value)
        except ValueError:
            raise InputError(MEMORY_ENV, f"must be a number of MiB, got {value!r}") from None
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
        values = [float(v) for v in out.split()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return min(values) if values else None


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
