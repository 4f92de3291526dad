"""Rule synthesize_speakers: the generated corpus's speaker table with its prosody mappings."""

from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.synth.speakers import speakers

log = job_logger(snakemake.log[0])
table = speakers(snakemake.params.n_speakers, snakemake.params.seed)
write_csv(table, snakemake.output[0])
log.info("%d speakers: %s", len(table), table[["speaker", "gender", "age"]].to_dict("records"))
