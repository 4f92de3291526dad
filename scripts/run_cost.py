"""Rule run_cost: per-stage wall, CPU and peak memory of this run's jobs, and how busy the cores were, from their
benchmark files."""

from emotrace.figures.runcost import plot_run_cost
from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.runcost import collect, cost_table, write_markdown
from emotrace.utilisation import describe, job_times, last_run, utilisation

log = job_logger(snakemake.log[0])
out = snakemake.output
jobs = collect(snakemake.input)
write_csv(jobs, out.jobs)
busy = describe(utilisation(last_run(job_times(snakemake.input, jobs)), snakemake.params.cores))
table = cost_table(jobs)
table.attrs["notes"] = busy + table.attrs["notes"]
write_markdown(table, out.table, title=f"Run cost of {snakemake.params.corpus}")
log.info("%s", "; ".join(busy))
plot_run_cost(jobs, [out.figure, out.pdf], corpus=snakemake.params.corpus)
log.info("run cost of %d benchmarked jobs", len(jobs))
