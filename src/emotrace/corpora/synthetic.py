"""The synthetic corpus made by `emotrace.synth`: the generic layout under another name.

`emotrace.synth` writes `metadata.csv` (recording, speaker, gender, age,
audio_path), the gold standard in `labels/{dimension}/{recording}.csv` (time,value
at 40 ms), and `raters/` and `hidden/` folders that ingestion does not read.
"""

from __future__ import annotations

from emotrace.corpora.base import register
from emotrace.corpora.generic import GenericAdapter


@register
class SyntheticAdapter(GenericAdapter):
    """Reads the generated corpus; the split unit (group) is the speaker."""

    name = "synthetic"
    generated = True
