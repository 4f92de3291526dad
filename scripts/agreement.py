"""Rule agreement: the raters' ceiling per dimension and partition (empty when the corpus has no raters)."""

import pandas as pd

from emotrace.agreement import agreement
from emotrace.ingest import read_raters
from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.uncertainty import settings

log = job_logger(snakemake.log[0])
split = pd.read_csv(snakemake.input.split, dtype=str)
table = agreement(read_raters(snakemake.input.raters), split, settings(snakemake.params.uncertainty),
                  snakemake.params.step)
write_csv(table, snakemake.output[0])
log.info("\n%s", table.to_string(index=False) if not table.empty else "the corpus has no individual ratings")
