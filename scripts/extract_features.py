"""Rule extract_features: one feature set for one recording, one row per label frame."""

import numpy as np

from emotrace.features import extract
from emotrace.ingest import read_labels
from emotrace.io import write_npz
from emotrace.logs import job_logger
from emotrace.segments import label_offset

log = job_logger(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
labels = read_labels(snakemake.input.labels)
n_frames = int((labels["recording"] == w.recording).sum() // labels["dimension"].nunique())
# Row k describes the audio frame paired with label k, centred in that 40 ms frame.
centre = p.step / 2 - label_offset(p.alignment) * p.step
values, names = extract(np.load(snakemake.input.audio), p.sample_rate, w.featureset, n_frames, p.step, centre,
                        where=w.recording)
write_npz(snakemake.output[0], values=values, names=np.asarray(names))
log.info("%s %s: %s", w.recording, w.featureset, values.shape)
