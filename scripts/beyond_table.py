"""Rule beyond_table: every configured system that fills no paper row, beside both papers' best systems
(CSV, Markdown, LaTeX, HTML)."""

from pathlib import Path

import pandas as pd

from emotrace.beyond import beyond_table
from emotrace.logs import job_logger
from emotrace.tables import to_markdown, write_table

log = job_logger(snakemake.log[0])
metrics = pd.read_csv(snakemake.input[0], dtype={"model": str, "objective": str, "target": str})
table = beyond_table(metrics, snakemake.params.models, snakemake.params.bundle, snakemake.params.corpus)
write_table(table, Path(snakemake.output.html).with_suffix(""), f"Beyond the papers ({snakemake.params.corpus})")
log.info("beyond_table\n%s", to_markdown(table))
