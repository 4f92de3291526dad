"""Rule figure_cells: recurrent cells of the e2e model vs prosodic features (Trigeorgis Fig. 2)."""

from emotrace.figures.cells import cell_figure
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
out = snakemake.output
cells = cell_figure(snakemake.input.model, snakemake.input.segments, [out.figure, out.pdf], out.csv,
                    min_frames=snakemake.params.min_frames, rule={"model": "train_network", "segments": "segment"})
log.info("\n%s", cells.to_string(index=False))
