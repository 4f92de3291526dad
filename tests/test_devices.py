"""Device choice with several GPUs: concurrent jobs get distinct devices (count faked, so it runs on a CPU)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import textwrap

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
    with pytest.raises(TimeoutError, match="all 3 GPUs stayed held"):  # a 4th job waits while all are held
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
    assert f"training on device cuda:0 (held through {claim.lock})" in caplog.text


def test_lock_files_name_the_physical_device(tmp_path, monkeypatch):
    """CUDA_VISIBLE_DEVICES=5,7: cuda:0 is the machine's GPU 5, so another job that sees 5 alone never shares it."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    with claim_device(count=2, directory=tmp_path) as claim:
        assert claim.device == "cuda:0" and claim.lock.name.endswith("-gpu5.lock")


def test_device_count_can_be_faked_and_is_checked(monkeypatch):
    monkeypatch.setenv(devices.COUNT_ENV, "3")
    assert device_count() == 3
    monkeypatch.setenv(devices.COUNT_ENV, "two")
    with pytest.raises(InputError, match="EMOTRACE_GPU_COUNT"):
        device_count()
    monkeypatch.delenv(devices.COUNT_ENV)
    import torch

    assert device_count() == torch.cuda.device_count()
