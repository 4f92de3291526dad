"""bench/gpu_check.py, the device check of issue #23, in its CPU mode: it runs and prints its one table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_quick_on_the_cpu_prints_its_table():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--device", "cpu", "--quick"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("gpu_check on CPU (cpu)") and "quick mode" in lines[0]
    drnn = next(line for line in lines if line.startswith("| drnn | 2 | 277,633 |"))
    fp32, bf16 = (float(v) for v in drnn.split("|")[4:6])
    assert fp32 > 0 and bf16 > 0 and drnn.rstrip().endswith("| n/a | n/a |")  # no GPU memory or utilisation here
    assert re.search(r"\| packed grid: 2 DRNN trainings side by side \| 5 \| \| one [\d.]+ s \| together [\d.]+ s \| "
                     r"[\d.]+ x \|", proc.stdout)
    assert re.search(r"\| fused grid: 2 DRNN trainings as one network \| 5 \| \| one [\d.]+ s/step \| "
                     r"fused [\d.]+ s/step \| [\d.]+ x \|", proc.stdout)
    shared = re.search(r"\| shared GPU \(time\): 3 fused DRNN jobs in 3 processes \| 5 \| \| one [\d.]+ s \| "
                       r"together [\d.]+ s \| [\d.]+ x \| \| share ([\d.]+) \|", proc.stdout)
    assert shared and 1 / 3 - 0.01 <= float(shared.group(1)) <= 1  # one training's share of the device it implies
    assert re.search(r"\| SSL extraction, WavLM Base\+ \(random weights\) \| \| \| [\d.]+ x real time \|", proc.stdout)
    grid = re.search(r"extrapolated \| \| \| before ([\d.]+) h \| one job at a time ([\d.]+) h \| [\d.]+ x \| "
                     r"shared \(time\) ([\d.]+) h \|", proc.stdout)
    assert grid and float(grid.group(1)) > 0 and float(grid.group(2)) > 0
    assert 0 < float(grid.group(3)) <= float(grid.group(2))  # sharing never makes the grid longer
