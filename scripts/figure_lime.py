"""Rule figure_lime: LIME explanation of the spectrogram model's valence crest (Yang Fig. 3 bottom)."""

from emotrace.figures.lime_spec import lime_figure
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
out = snakemake.output
result = lime_figure(snakemake.input.model, snakemake.input.segments, [out.figure, out.pdf], out.csv,
                     seed=snakemake.params.seed, num_samples=snakemake.params.samples, rule={"model": "train_network", "segments": "segment"})
log.info("explained %s", result)
