"""Rule split: train/dev/test by speaker (or conversation), from proportions, a preset or lists; with
split.folds or split.redraws, the draw (fold or redraw) named by wildcard `draw` (emotrace.folds)."""

from emotrace.corpora import get_adapter
from emotrace.folds import draw_plan, make_draw_split
from emotrace.ingest import read_manifest
from emotrace.io import atomic_write, write_csv
from emotrace.logs import job_logger
from emotrace.splits import make_split

log = job_logger(snakemake.log[0])
cfg = snakemake.params.split
manifest = read_manifest(snakemake.input.manifest)
presets = get_adapter(snakemake.params.adapter, snakemake.params.root, snakemake.params.options,
                      snakemake.params.module).preset_splits()
if draw_plan(cfg) is not None:
    split = make_draw_split(manifest, cfg, snakemake.wildcards.draw, presets)
else:
    split = make_split(manifest, cfg["method"], proportions=cfg.get("proportions"), seed=cfg.get("seed", 1),
                       lists=cfg.get("lists"), presets=presets, preset=cfg.get("preset"))
write_csv(split, snakemake.output[0])
with atomic_write(snakemake.output.notes) as tmp:  # what the tables must say about the split
    tmp.write_text("".join(f"{note}\n" for note in split.attrs.get("notes", [])), encoding="utf-8")
for part, rows in split.groupby("partition"):
    log.info("%s: %d recordings, groups %s", part, len(rows), sorted(rows["group"].unique()))
