"""Rule preprocess: 16 kHz mono z-normalised audio of one recording."""

from emotrace.audio import preprocess
from emotrace.ingest import read_manifest
from emotrace.io import write_npy
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
row = read_manifest(snakemake.input.manifest).set_index("recording").loc[snakemake.wildcards.recording]
signal = preprocess(row["audio_path"], float(row["offset"]), float(row["duration"]), snakemake.params.sample_rate)
write_npy(snakemake.output[0], signal)
log.info("%s: %d samples at %d Hz", snakemake.wildcards.recording, len(signal), snakemake.params.sample_rate)
