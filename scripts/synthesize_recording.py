"""Rule synthesize_recording: one recording per process (espeak-ng state carries over within a process)."""

import pandas as pd

from emotrace.logs import job_logger
from emotrace.synth.recording import synthesize_recording

log = job_logger(snakemake.log[0])
table = pd.read_csv(snakemake.input.speakers, dtype={"speaker": str, "recording": str})
row = table.set_index("recording").loc[snakemake.wildcards.recording]
row = {"recording": snakemake.wildcards.recording, **row.to_dict()}
synthesize_recording(
    row, snakemake.params.duration, snakemake.params.seed, snakemake.params.root, tuple(snakemake.params.dimensions)
)
log.info("synthesised %s (%.0f s)", snakemake.wildcards.recording, snakemake.params.duration)
