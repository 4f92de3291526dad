"""WAV header checks that need neither libsndfile nor torch: a file cut short is found from its header."""

from __future__ import annotations

import struct
from pathlib import Path

from emotrace.errors import InputError


def wav_truncation(path: str | Path) -> tuple[float, float] | None:
    """(declared, held) seconds of a RIFF/RIFX WAV whose data chunk is cut short, else None.

    libsndfile reads such a file as a shorter recording without a word; the header's data
    size tells the truth. Files that are not WAV, or whose writer left the size unknown
    (0 or 0xFFFFFFFF, as streaming writers do), give None.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return None
            endian = "<" if head[:4] == b"RIFF" else ">"
            rate = block_align = 0
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                chunk_id, (chunk_size,) = fh.read(4), struct.unpack(endian + "I", fh.read(4))
                if chunk_id == b"fmt ":
                    fmt = fh.read(14)
                    if len(fmt) < 14:
                        return None
                    _, _, rate, _, block_align = struct.unpack(endian + "HHIIH", fmt)
                elif chunk_id == b"data":
                    held = size - pos - 8
                    if not (rate and block_align) or chunk_size in (0, 0xFFFFFFFF) or held >= chunk_size:
                        return None
                    return chunk_size / block_align / rate, held // block_align / rate
                pos += 8 + chunk_size + (chunk_size & 1)
    except (OSError, struct.error):
        return None
    return None


def check_not_truncated(path: str | Path) -> None:
    """InputError naming the file and both durations when a WAV holds less audio than its header declares."""
    cut = wav_truncation(path)
    if cut is not None:
        raise InputError(path, f"truncated audio file: its header declares {cut[0]:.2f} s but the file holds "
                               f"{cut[1]:.2f} s (an interrupted copy or download?)")
