"""Rule figure_bars: both papers' Table 1 as grouped bar charts, ours (with intervals) beside the published figures."""

import pandas as pd

from emotrace.figures.bars import plot_trigeorgis_bars, plot_yang_bars, read_all_metrics
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
out = snakemake.output
metrics = read_all_metrics(snakemake.input.metrics, rule="tables")
agreement = pd.read_csv(snakemake.input.agreement)
plot_trigeorgis_bars(metrics, snakemake.params.models, [out.trigeorgis, out.trigeorgis_pdf], agreement=agreement)
plot_yang_bars(metrics, snakemake.params.models, [out.yang, out.yang_pdf], snakemake.params.published, agreement=agreement)
log.info("bar charts from %s", snakemake.input.metrics)
