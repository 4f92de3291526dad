"""Checkpoint ingest: run the configured corpus adapter and check its output."""

from emotrace.corpora import get_adapter
from emotrace.ingest import ingest, rater_table
from emotrace.io import write_csv
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
p = snakemake.params
adapter = get_adapter(p.adapter, p.root, p.options, p.module)
manifest, labels = ingest(adapter, list(p.dimensions), p.step, p.max_mismatch)
write_csv(labels, snakemake.output.labels)
write_csv(rater_table(adapter, list(p.dimensions), p.step, labels), snakemake.output.raters)
write_csv(manifest, snakemake.output.manifest)
