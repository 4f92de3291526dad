"""Rule tables: both papers' Table 1 from every metrics.csv of the grid (CSV, Markdown, LaTeX)."""

from pathlib import Path

from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.tables import collect, to_markdown, trigeorgis_table, write_table, yang_table

log = job_logger(snakemake.log[0])
out = Path(snakemake.params.outdir)
metrics = collect([Path(p) for p in snakemake.input.metrics])
split_notes = Path(snakemake.input.split_notes).read_text(encoding="utf-8").splitlines()
write_csv(metrics, snakemake.output.metrics)
published = "SEMAINE" if snakemake.params.adapter == "semaine" else "RECOLA"
for stem, table in (
    ("trigeorgis2016_table1", trigeorgis_table(metrics)),
    ("yang2018_table1", yang_table(metrics, published)),
):
    table.attrs["notes"] = table.attrs.get("notes", []) + split_notes
    write_table(table, out / stem)
    log.info("%s\n%s", stem, to_markdown(table))
