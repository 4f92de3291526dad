"""Real recorded speech for tests, fetched at test time from Debian's `asterisk-core-sounds-en-wav` (8 kHz prompts).

Nothing of that audio is committed: `apt-get download` fetches the package, `dpkg-deb -x` unpacks it,
and a few prompts chosen deterministically (the longest, plus one short) are kept in a cache folder
(`$EMOTRACE_TEST_SPEECH` or `~/.cache/emotrace-test-speech`) so later runs need no network. If the
package cannot be obtained the calling test is skipped with the reason, never passed silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

PACKAGE = "asterisk-core-sounds-en-wav"
N_LONGEST = 3
SEGMENT_SECONDS = 6.0


def cache_dir() -> Path:
    """Where the chosen prompts are kept between runs."""
    return Path(os.environ.get("EMOTRACE_TEST_SPEECH", Path.home() / ".cache" / "emotrace-test-speech"))


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def _download(workdir: Path) -> Path:
    """The package's .deb in `workdir`; runs `apt-get update` once if the index does not know it."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip(f"real speech: apt-get/dpkg-deb not available to fetch {PACKAGE}")
    proc = _run(["apt-get", "download", PACKAGE], workdir)
    if proc.returncode != 0:
        update = _run(["apt-get", "update"], workdir)
        proc = _run(["apt-get", "download", PACKAGE], workdir)
        if proc.returncode != 0:
            pytest.skip(f"real speech: cannot download {PACKAGE}: {proc.stderr.strip()[-400:]} "
                        f"(apt-get update: {update.stderr.strip()[-200:]})")
    debs = sorted(workdir.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        pytest.skip(f"real speech: apt-get download left no {PACKAGE} .deb in {workdir}")
    return debs[0]


def _choose(wavs: list[Path]) -> list[Path]:
    """The N_LONGEST longest prompts and the longest one under 6 s (ties by name): deterministic."""
    frames = {w: sf.info(str(w)).frames for w in wavs}
    rate = {w: sf.info(str(w)).samplerate for w in wavs}
    longest = sorted(wavs, key=lambda w: (-frames[w], w.name))[:N_LONGEST]
    short = sorted((w for w in wavs if frames[w] / rate[w] < SEGMENT_SECONDS), key=lambda w: (-frames[w], w.name))
    return longest + short[:1]


def _populate(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="emotrace-speech-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's unprivileged downloader must be able to write here
        deb = _download(work)
        unpacked = work / "x"
        proc = _run(["dpkg-deb", "-x", str(deb), str(unpacked)], work)
        if proc.returncode != 0:
            pytest.skip(f"real speech: dpkg-deb -x {deb.name} failed: {proc.stderr.strip()[-400:]}")
        wavs = sorted(unpacked.rglob("*.wav"))
        if len(wavs) < N_LONGEST + 1:
            pytest.skip(f"real speech: {PACKAGE} holds only {len(wavs)} WAV files")
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        for i, wav in enumerate(_choose(wavs)):
            shutil.copyfile(wav, staging / f"{i}-{wav.name}")
        os.replace(staging, target)  # atomic: a half-filled cache is never seen


def speech_files() -> list[Path]:
    """Real speech prompts (8 kHz mono 16-bit WAV): the three longest, then the longest under 6 s."""
    target = cache_dir()
    if not target.is_dir() or len(list(target.glob("*.wav"))) < N_LONGEST + 1:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        _populate(target)
    return sorted(target.glob("*.wav"), key=lambda p: int(p.name.split("-", 1)[0]))


def concatenate(files: list[Path], out: Path) -> Path:
    """Write the files (same sample rate) one after another as one WAV."""
    parts, rates = zip(*(sf.read(str(f), dtype="float32") for f in files))
    if len(set(rates)) != 1:
        raise ValueError(f"cannot concatenate files of different sample rates {sorted(set(rates))}")
    sf.write(str(out), np.concatenate(parts), rates[0], subtype="PCM_16")
    return out


def stereo_flac(source: Path, out: Path, rate: int = 44100) -> Path:
    """A 44.1 kHz stereo FLAC of `source`: resampled, right channel at 0.6 of the left."""
    import torch
    import torchaudio.functional as AF

    mono, sr = sf.read(str(source), dtype="float32")
    up = AF.resample(torch.from_numpy(mono), sr, rate).numpy()
    sf.write(str(out), np.stack([up, 0.6 * up], axis=1), rate, format="FLAC", subtype="PCM_16")
    return out


@pytest.fixture(scope="session")
def real_speech() -> list[Path]:
    """Session fixture: the cached real speech prompts (skips the test if they cannot be obtained)."""
    return speech_files()
