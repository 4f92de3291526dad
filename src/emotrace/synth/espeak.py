"""eSpeak NG speech through ctypes, run in a fresh interpreter so that output is reproducible.

libespeak-ng keeps synthesis state between calls (wave generator phase, a toggled
harmonic table), so the same request gives different samples depending on what the
process synthesised before. A recording's utterances are therefore always produced
by a new child process (`EspeakProcess`) that receives the same request sequence,
which makes a recording byte-identical whoever calls it.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22_050  # eSpeak NG's rate in synchronous mode

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Utterance:
    """One eSpeak call: text, the voice file's content and the speech parameters.

    `rate` is words per minute (80-450), `pitch` and `pitch_range` are eSpeak's 0-99
    scales (50 = the voice's own base pitch and range; +50 pitch doubles F0).
    """

    text: str
    voice: str
    rate: int = 175
    pitch: int = 50
    pitch_range: int = 50


def voice_file(
    language: str,
    gender: str,
    pitch_base_hz: float,
    pitch_top_hz: float,
    formants: dict[int, tuple[float, float, float]],
    flutter: int = 64,
    roughness: int = 2,
) -> str:
    """Text of an eSpeak voice file; `formants` maps formant number -> (freq %, height %, width %)."""
    lines = [
        "name emotrace",
        f"language {language}",
        f"gender {'female' if gender == 'F' else 'male'}",
        f"pitch {round(pitch_base_hz)} {round(pitch_top_hz)}",
        f"flutter {int(flutter)}",
        f"roughness {int(roughness)}",
    ]
    for number, (freq, height, width) in sorted(formants.items()):
        lines.append(f"formant {number} {round(freq)} {round(height)} {round(width)}")
    return "\n".join(lines) + "\n"


class Espeak:
    """In-process ctypes binding of libespeak-ng; use through `EspeakProcess` for reproducible output."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByFile.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByFile.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate != SAMPLE_RATE:
            raise RuntimeError(f"espeak_Initialize returned {rate}, expected {SAMPLE_RATE} Hz")
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._callback = _SynthCallback(self._collect)  # kept referenced: libespeak-ng holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._voice_dir = tempfile.TemporaryDirectory(prefix="emotrace-espeak-")

    def _collect(self, wav, n_samples, _events) -> int:
        if wav and n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        return 0

    def _check(self, status: int, call: str) -> None:
        if status != 0:
            raise RuntimeError(f"{call} failed with eSpeak status {status}")

    def synthesize(self, utterance: Utterance) -> np.ndarray:
        """Speak one utterance; int16 samples at 22 050 Hz. Volume stays at 100 (gain is applied later)."""
        voice_path = Path(self._voice_dir.name) / "voice"
        voice_path.write_text(utterance.voice)
        self._check(self._lib.espeak_SetVoiceByFile(str(voice_path).encode()), "espeak_SetVoiceByFile")
        for parameter, value in (
            (_PARAM_RATE, utterance.rate),
            (_PARAM_VOLUME, 100),
            (_PARAM_PITCH, utterance.pitch),
            (_PARAM_RANGE, utterance.pitch_range),
        ):
            self._check(self._lib.espeak_SetParameter(parameter, int(value), 0), "espeak_SetParameter")
        text = utterance.text.encode("utf-8") + b"\0"
        self._chunks = []
        self._check(
            self._lib.espeak_Synth(text, len(text), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None),
            "espeak_Synth",
        )
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks).astype(np.int16, copy=False)


class EspeakProcess:
    """A fresh interpreter that owns libespeak-ng; `synthesize` sends it one utterance at a time.

    Use as a context manager; one instance per recording keeps the output reproducible.
    """

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "emotrace.synth.espeak"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def synthesize(self, utterance: Utterance) -> np.ndarray:
        """int16 samples at 22 050 Hz for one utterance."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps(asdict(utterance)).encode("utf-8") + b"\n")
            self._proc.stdin.flush()
            header = self._proc.stdout.read(8)
            if len(header) != 8:
                raise BrokenPipeError
            (n_bytes,) = struct.unpack("<Q", header)
            payload = self._proc.stdout.read(n_bytes)
            if len(payload) != n_bytes:
                raise BrokenPipeError
        except BrokenPipeError:
            raise RuntimeError(f"eSpeak worker process failed: {self._stderr()}") from None
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)

    def _stderr(self) -> str:
        self.close()
        assert self._proc.stderr is not None
        return self._proc.stderr.read().decode("utf-8", "replace").strip()[-2000:]

    def close(self) -> None:
        """Ask the worker to finish and wait for it."""
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> "EspeakProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> None:
    """Worker loop: one JSON utterance per stdin line -> 8-byte length + int16 PCM on stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything libespeak-ng prints must not corrupt the PCM stream
    engine = Espeak()
    for line in sys.stdin.buffer:
        samples = engine.synthesize(Utterance(**json.loads(line)))
        payload = samples.astype("<i2").tobytes()
        out.write(struct.pack("<Q", len(payload)) + payload)
        out.flush()


if __name__ == "__main__":
    _serve()
