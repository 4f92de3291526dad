"""Rule figure_traces: gold and predicted traces over a test recording and a 6 s segment (Yang Figs. 2, 3 top)."""

import pandas as pd

from emotrace.figures.traces import plot_recording, plot_segment
from emotrace.logs import job_logger
from emotrace.predictions import read_predictions

log = job_logger(snakemake.log[0])
tables = {}
for label, path in zip(snakemake.params.labels, snakemake.input):
    tables.setdefault(label, []).append(read_predictions(path))
predictions = {label: pd.concat(parts, ignore_index=True) for label, parts in tables.items()}
out = snakemake.output
log.info("recording: %s", plot_recording(predictions, [out.recording, out.recording_pdf]))
log.info("segment: %s", plot_segment(predictions, [out.segment, out.segment_pdf]))
