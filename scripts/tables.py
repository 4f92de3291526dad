"""Rule tables: both papers' Table 1 with bootstrap intervals and the raters' row, all metrics, and the findings
(the papers' claims and the config's own)."""

from pathlib import Path

import pandas as pd

from emotrace import collapse, uncertainty
from emotrace.findings import findings, write_findings
from emotrace.io import atomic_write, write_csv
from emotrace.logs import job_logger
from emotrace.runs import Scores, load_runs, scaling_note, with_intervals
from emotrace.tables import collect, metrics_page, paper_tables, published_label, to_markdown, write_table

log = job_logger(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
out = Path(params.outdir)
runs = load_runs(inp.raw, inp.postprocessed, inp.settings, inp.history)
scores = Scores(runs, uncertainty.settings(params.uncertainty), params.step)
metrics = with_intervals(collect([Path(p) for p in inp.metrics]), scores, collapse.settings(params.collapse))
split_notes = Path(inp.split_notes).read_text(encoding="utf-8").splitlines()
write_csv(metrics, snakemake.output.metrics)
with atomic_write(snakemake.output.metrics_html) as tmp:
    tmp.write_text(metrics_page(metrics), encoding="utf-8")
agreement = pd.read_csv(inp.agreement)
notes = (scores.describe(), scaling_note(runs))
for stem, (title, table) in paper_tables(metrics, params.models, params.adapter, params.corpus, notes, agreement,
                                         split_notes).items():
    write_table(table, out / stem, title)
    log.info("%s\n%s", stem, to_markdown(table))
claims = findings(metrics, scores, params.models, published_label(params.adapter), params.claims)
write_findings(claims, out / "findings")
log.info("findings\n%s", claims["verdict"].value_counts().to_string())
