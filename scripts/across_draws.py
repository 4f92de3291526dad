"""Rule across_draws: both papers' Table 1, all metrics, the findings and the per-system table across speaker folds
(pooled out-of-fold CCC) or training redraws (mean over draws), with hierarchical bootstrap intervals."""

from pathlib import Path

from emotrace import collapse, uncertainty
from emotrace.across_folds import (
    AcrossScores, across_findings, cells_note, draws_table, load_draws, pooled_metrics, split_note,
    write_across_findings,
)
from emotrace.io import atomic_write, write_csv
from emotrace.logs import job_logger
from emotrace.runs import scaling_note
from emotrace.tables import metrics_page, paper_tables, published_label, to_markdown, write_table

log = job_logger(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
out, kind, names = Path(params.outdir), params.kind, [str(d) for d in params.draws]
split = split_note(kind, names, list(inp.splits))
draws = load_draws(kind, names, inp.metrics, inp.raw, inp.postprocessed, inp.settings, inp.history,
                   uncertainty.settings(params.uncertainty), collapse.settings(params.collapse), params.step)
across = AcrossScores(draws, kind)
metrics = pooled_metrics(draws, across, params.corpus)
write_csv(metrics, out / "all_metrics.csv")
with atomic_write(out / "all_metrics.html") as tmp:
    tmp.write_text(metrics_page(metrics), encoding="utf-8")
notes = (across.describe(), scaling_note([run for draw in draws for run in draw.runs]))
for stem, (title, table) in paper_tables(metrics, params.models, params.adapter, params.corpus, notes, None,
                                         [split, cells_note(kind, names)]).items():
    write_table(table, out / stem, title)
    log.info("%s\n%s", stem, to_markdown(table))
per_system = draws_table(metrics, params.models, kind, names, across.describe())
per_system.attrs["notes"].append(split)
write_table(per_system, out / "across_draws", f"Every system across {kind} ({params.corpus})")
log.info("across_draws\n%s", to_markdown(per_system))
claims = across_findings(metrics, across, params.models, published_label(params.adapter), params.claims)
write_across_findings(claims, out / "findings", kind, names[0], across.describe())
log.info("findings\n%s", claims[["verdict", "robustness"]].value_counts().to_string())
