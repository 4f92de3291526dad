"""A corpus adapter of one's own for emotrace (docs/extending.md), for a made-up layout:

    speakers.tsv                         id <TAB> sex <TAB> age       (sex: female / male)
    audio/<speaker>/<take>.wav           any sample rate, mono or not
    ratings/<speaker>-<take>.txt         whitespace-separated "t_ms arousal valence" rows, any step,
                                         ratings from -scale to +scale; lines starting with # are comments

Selected in a config with

    corpus:
      name: mycorpus
      adapter: TakesAdapter
      module: docs/examples/my_adapter.py
      root: /data/mycorpus
      options: {scale: 100}

Its contract with emotrace: a subclass of emotrace.corpora.base.CorpusAdapter, built as
`Adapter(root, options)`, whose `manifest()` lists the recordings (MANIFEST_COLUMNS) and whose
`labels(dimensions, step)` gives the gold standard on the `step` grid (LABEL_COLUMNS). The helpers
of emotrace.corpora.labels do the checking and resampling the built-in adapters do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.corpora.base import CorpusAdapter
from emotrace.corpora.labels import (
    audio_header,
    check_coverage,
    check_dimensions,
    check_trace,
    frame_times,
    label_frame,
    manifest_frame,
    merge_options,
    normalise_gender,
    parse_age,
    read_table,
    resample_trace,
)
from emotrace.errors import InputError

COLUMNS = ("t_ms", "arousal", "valence")  # what a ratings file holds, in this order


class TakesAdapter(CorpusAdapter):
    """Speakers' takes in audio/<speaker>/<take>.wav, rated in ratings/<speaker>-<take>.txt; one speaker per group."""

    name = "takes"
    options_accepted = {"scale": 100.0, "tolerance": 1.0}  # checked against corpus.options when the workflow loads

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        self.options = merge_options(self.name, self.options, self.options_accepted)

    def manifest(self) -> pd.DataFrame:
        """One row per take; sample rate and duration from the audio header."""
        table = read_table(self.root / "speakers.tsv", sep="\t")
        rows = []
        for i, speaker in enumerate(table.to_dict("records")):
            where = f"{self.root / 'speakers.tsv'}:{i + 2}"
            takes = sorted((self.root / "audio" / speaker["id"]).glob("*.wav"))
            if not takes:
                raise InputError(where, f"speaker {speaker['id']!r} has no audio/{speaker['id']}/*.wav")
            for wav in takes:
                rate, duration = audio_header(wav)
                rows.append({
                    "recording": f"{speaker['id']}-{wav.stem}", "speaker": speaker["id"], "group": speaker["id"],
                    "gender": normalise_gender(speaker["sex"], where), "age": parse_age(speaker["age"], where),
                    "audio_path": str(wav), "offset": 0.0, "duration": duration, "sample_rate": rate,
                })
        return manifest_frame(rows)

    def labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Each take's ratings scaled to [-1, 1] and interpolated onto the `step` grid."""
        check_dimensions(dimensions, COLUMNS[1:], self.root / "ratings")
        parts = []
        for rec in self.manifest().itertuples(index=False):
            path = self.root / "ratings" / f"{rec.recording}.txt"
            if not path.is_file():
                raise InputError(path, f"no ratings for recording {rec.recording}")
            rows = np.loadtxt(path, comments="#", ndmin=2)
            if rows.shape[1] != len(COLUMNS):
                raise InputError(path, f"{rows.shape[1]} columns, expected {len(COLUMNS)} ({' '.join(COLUMNS)})")
            times = rows[:, 0] / 1000.0
            for dimension in dimensions:
                values = rows[:, COLUMNS.index(dimension)] / float(self.options["scale"])
                check_trace(times, values, path)
                check_coverage(times, 0.0, rec.duration, path, float(self.options["tolerance"]))
                parts.append((rec.recording, dimension, resample_trace(times, values, frame_times(rec.duration, step))))
        return label_frame(parts, step)
