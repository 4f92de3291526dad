"""Rule segment: 6 s segments of one recording (overlapping if it is a training recording)."""

import numpy as np
import pandas as pd

from emotrace.ingest import label_matrix, read_labels
from emotrace.io import write_npz
from emotrace.logs import job_logger
from emotrace.segments import FRAME_SAMPLES, SAMPLE_RATE, segment_recording

log = job_logger(snakemake.log[0])
rec = snakemake.wildcards.recording
p = snakemake.params
split = pd.read_csv(snakemake.input.split, dtype=str).set_index("recording")["partition"]
partition = split.get(rec, "none")
hop = round(p.train_hop * SAMPLE_RATE / FRAME_SAMPLES) if partition == "train" else None
labels = label_matrix(read_labels(snakemake.input.labels), rec, list(p.dimensions))
arrays = segment_recording(np.load(snakemake.input.audio), labels, list(p.dimensions), rec, p.alignment, hop)
write_npz(snakemake.output[0], **arrays)
log.info("%s (%s): %d segments, tiling %s", rec, partition, len(arrays["frame0"]), arrays["tiling"])
