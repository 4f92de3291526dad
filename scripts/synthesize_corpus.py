"""Rule synthesize_corpus: metadata.csv, written last so that it marks a complete corpus."""

import pandas as pd

from emotrace.logs import job_logger
from emotrace.synth.recording import write_metadata

log = job_logger(snakemake.log[0])
table = pd.read_csv(snakemake.input.speakers, dtype={"speaker": str, "recording": str})
write_metadata(table, snakemake.params.root)
log.info("corpus of %d recordings at %s", len(table), snakemake.params.root)
