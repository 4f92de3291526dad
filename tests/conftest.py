"""Shared fixtures: the tiny pipeline run once per session through the real snakemake command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(workdir: Path, *args: str, timeout: int = 1500, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow of this repository with `workdir` as working directory (results/ go there)."""
    cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Working directory after a complete local run of the tiny config (every stage, every model kind)."""
    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir, "--configfile", str(TINY), "--cores", "2", "--resources", "gpu=1")
    return workdir
