"""Device choice and sharing: concurrent jobs get distinct devices, or shares of one (count faked: runs on a CPU)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import pytest

from emotrace import devices
from emotrace.devices import claim_device, device_count
from emotrace.errors import InputError


def hold(directory: str, count: int, got, release) -> None:
    """A stand-in job: take a device, report it, keep it until told to end."""
    claim = claim_device(count=count, directory=directory, poll=0.05)
    got.put((os.getpid(), claim.device))
    release.wait(30)
    claim.release()


def test_concurrent_jobs_get_distinct_devices_and_a_freed_one_is_reused(tmp_path):
    ctx = multiprocessing.get_context("fork")
    got, release = ctx.Queue(), ctx.Event()
    jobs = [ctx.Process(target=hold, args=(str(tmp_path), 3, got, release)) for _ in range(3)]
    for job in jobs:
        job.start()
    held = dict(got.get(timeout=30) for _ in jobs)
    assert sorted(held.values()) == ["cuda:0", "cuda:1", "cuda:2"]
    with pytest.raises(TimeoutError, match="no GPU had 20 of its 20 share slots free"):  # a 4th job waits
        claim_device(count=3, directory=tmp_path, poll=0.05, timeout=0.3)
    release.set()
    for job in jobs:
        job.join(30)
        assert job.exitcode == 0
    with claim_device(count=3, directory=tmp_path) as claim:  # every lock went with its job
        assert claim.device == "cuda:0"


def test_a_killed_job_frees_its_device(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys, time
        from emotrace.devices import claim_device
        claim = claim_device(count=2, directory={str(tmp_path)!r})
        print(claim.device, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "cuda:0"
        with claim_device(count=2, directory=tmp_path) as second:
            assert second.device == "cuda:1"
    finally:
        proc.kill()
        proc.wait()
    with claim_device(count=2, directory=tmp_path) as after:
        assert after.device == "cuda:0"


def test_one_or_no_gpu_or_a_given_device_takes_no_lock(tmp_path):
    assert claim_device(count=0, directory=tmp_path).device == "cpu"
    assert claim_device(count=1, directory=tmp_path).device == "cuda:0"
    assert claim_device("cuda:3", count=4, directory=tmp_path).device == "cuda:3"
    assert not list(tmp_path.iterdir())


def test_log_says_which_device_and_lock(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        with claim_device(count=2, directory=tmp_path, log=logging.getLogger("job")) as claim:
            assert claim.lock is not None and claim.lock.parent == tmp_path
    pattern = claim.lock.name.replace(".slot00.lock", ".slot*.lock")
    assert f"training on device cuda:0, the whole device (held through {tmp_path}/{pattern})" in caplog.text


def test_lock_files_name_the_physical_device(tmp_path, monkeypatch):
    """CUDA_VISIBLE_DEVICES=5,7: cuda:0 is the machine's GPU 5, so another job that sees 5 alone never shares it."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    with claim_device(count=2, directory=tmp_path) as claim:
        assert claim.device == "cuda:0" and claim.lock.name.endswith("-gpu5.slot00.lock")


def test_device_count_can_be_faked_and_is_checked(monkeypatch):
    monkeypatch.setenv(devices.COUNT_ENV, "3")
    assert device_count() == 3
    monkeypatch.setenv(devices.COUNT_ENV, "two")
    with pytest.raises(InputError, match="EMOTRACE_GPU_COUNT"):
        device_count()
    monkeypatch.delenv(devices.COUNT_ENV)
    import torch

    assert device_count() == torch.cuda.device_count()


def share(directory: str, slots: int, got, release) -> None:
    """A stand-in small job: take `slots` share slots of the one (faked) GPU, report them, keep them until told."""
    claim = claim_device(count=1, directory=directory, poll=0.05, slots=slots)
    got.put((claim.device, claim.slots, len(claim.fds)))
    release.wait(30)
    claim.release()


def test_small_jobs_share_one_gpu_and_a_whole_device_job_waits_for_all_of_it(tmp_path):
    """Three jobs of 6 slots share the one GPU at once; a job wanting the whole device waits until they end, and a
    small job that comes after it does not overtake it although 2 slots are free (the gate)."""
    ctx = multiprocessing.get_context("fork")
    got, release = ctx.Queue(), ctx.Event()
    small = [ctx.Process(target=share, args=(str(tmp_path), 6, got, release)) for _ in range(3)]
    for job in small:
        job.start()
    assert sorted(got.get(timeout=30) for _ in small) == [("cuda:0", 6, 6)] * 3  # all three at once
    with pytest.raises(TimeoutError, match="no GPU had 20 of its 20 share slots free"):
        claim_device(count=1, directory=tmp_path, poll=0.05, timeout=0.3, slots=devices.SLOTS)
    with claim_device(count=1, directory=tmp_path, slots=2) as fits:  # 18 of 20 held: 2 are free
        assert fits.slots == 2
    whole, whole_got, whole_release = None, ctx.Queue(), ctx.Event()
    whole = ctx.Process(target=share, args=(str(tmp_path), devices.SLOTS, whole_got, whole_release))
    whole.start()
    deadline = time.monotonic() + 30
    while not any(p.name.endswith(".gate") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # it holds the gate from its first failed try on
    with pytest.raises(TimeoutError):  # 2 slots free, but a job came first
        claim_device(count=1, directory=tmp_path, poll=0.05, timeout=0.3, slots=2)
    assert whole_got.empty()
    release.set()
    for job in small:
        job.join(30)
        assert job.exitcode == 0
    assert whole_got.get(timeout=30) == ("cuda:0", devices.SLOTS, devices.SLOTS)
    with pytest.raises(TimeoutError):
        claim_device(count=1, directory=tmp_path, poll=0.05, timeout=0.3, slots=1)
    whole_release.set()
    whole.join(30)
    assert whole.exitcode == 0
    with claim_device(count=1, directory=tmp_path, slots=1) as after:
        assert after.slots == 1


def test_shares_with_several_gpus_fill_one_device_then_the_next(tmp_path):
    first = claim_device(count=2, directory=tmp_path, slots=12)
    second = claim_device(count=2, directory=tmp_path, slots=12)  # 8 left on cuda:0: the next device
    third = claim_device(count=2, directory=tmp_path, slots=8)
    assert (first.device, second.device, third.device) == ("cuda:0", "cuda:1", "cuda:0")
    for claim in (first, second, third):
        claim.release()


def test_share_slots_round_up_and_are_checked(tmp_path):
    assert devices.slots_for(1.0) == devices.SLOTS and devices.slots_for(0.01) == 1
    assert devices.slots_for(0.18) == 4 and devices.slots_for(0.25) == 5
    with pytest.raises(InputError, match="gpu share"):
        devices.slots_for(0)
    with pytest.raises(InputError, match="gpu_slots"):
        claim_device(count=1, directory=tmp_path, slots=devices.SLOTS + 1)
    assert claim_device(count=0, directory=tmp_path, slots=3).device == "cpu"  # no GPU: nothing to share


def test_sharing_mode_from_the_environment_or_a_running_mps_daemon(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_MPS_PIPE_DIRECTORY", str(tmp_path))
    monkeypatch.delenv(devices.SHARING_ENV, raising=False)
    assert not devices.mps_running() and devices.sharing_mode() == "time"
    os.mkfifo(tmp_path / "control")  # the pipe alone, with no daemon behind it (one that died), is not MPS
    assert not devices.mps_running() and devices.sharing_mode() == "time"
    for mode in ("mps", "off", "time"):
        monkeypatch.setenv(devices.SHARING_ENV, mode.upper())
        assert devices.sharing_mode() == mode
    monkeypatch.setenv(devices.SHARING_ENV, "always")
    with pytest.raises(InputError, match="EMOTRACE_GPU_SHARING"):
        devices.sharing_mode()
