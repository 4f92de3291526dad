"""Rule segment: 6 s segments of one recording, contiguous (dev, test) and overlapping (training)."""

import numpy as np

from emotrace.ingest import label_matrix, read_labels
from emotrace.io import write_npz
from emotrace.logs import job_logger
from emotrace.segments import FRAME_SAMPLES, SAMPLE_RATE, segment_recording

log = job_logger(snakemake.log[0])
rec, p, out = snakemake.wildcards.recording, snakemake.params, snakemake.output
audio = np.load(snakemake.input.audio)
labels = label_matrix(read_labels(snakemake.input.labels), rec, list(p.dimensions))
hop = round(p.train_hop * SAMPLE_RATE / FRAME_SAMPLES)
for path, hop_frames in ((out.contiguous, None), (out.overlapping, hop)):
    arrays = segment_recording(audio, labels, list(p.dimensions), rec, p.alignment, hop_frames)
    write_npz(path, **arrays)
    log.info("%s: %d segments, tiling %s", rec, len(arrays["frame0"]), arrays["tiling"])
