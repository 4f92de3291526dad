"""Rule run_cost: per-stage wall, CPU and peak memory of this run's jobs, from their benchmark files."""

from emotrace.figures.runcost import plot_run_cost
from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.runcost import collect, cost_table, write_markdown

log = job_logger(snakemake.log[0])
out = snakemake.output
jobs = collect(snakemake.input)
write_csv(jobs, out.jobs)
write_markdown(cost_table(jobs), out.table, title=f"Run cost of {snakemake.params.corpus}")
plot_run_cost(jobs, [out.figure, out.pdf], corpus=snakemake.params.corpus)
log.info("run cost of %d benchmarked jobs", len(jobs))
