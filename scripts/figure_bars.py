"""Rule figure_bars: both papers' Table 1 as grouped bar charts, ours beside the published figures."""

from emotrace.figures.bars import plot_trigeorgis_bars, plot_yang_bars, read_metrics
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
out = snakemake.output
metrics = read_metrics(snakemake.input, rule="evaluate")
plot_trigeorgis_bars(metrics, [out.trigeorgis, out.trigeorgis_pdf])
plot_yang_bars(metrics, [out.yang, out.yang_pdf], snakemake.params.published)
log.info("bar charts from %d metrics files", len(snakemake.input))
