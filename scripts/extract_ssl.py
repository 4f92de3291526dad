"""Rule extract_ssl: one recording's SSL hidden states, one row per label frame, float16."""

import numpy as np
import torch

from emotrace import ssl
from emotrace.ingest import read_labels
from emotrace.io import write_npz
from emotrace.logs import job_logger
from emotrace.segments import label_offset
from emotrace.training import resolve_device

log = job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params
settings = ssl.SSLSettings.from_config(p.ssl)
device = resolve_device(settings.device)
labels = read_labels(snakemake.input.labels)
n_rows = int((labels["recording"] == w.recording).sum() // labels["dimension"].nunique())
model = ssl.load_extractor(settings, device)
values, layers = ssl.extract(model, np.load(snakemake.input.audio), settings, n_rows, label_offset(p.alignment),
                             device, where=w.recording)
dim = values.shape[1] // len(layers)
write_npz(snakemake.output[0], values=values, names=np.asarray(ssl.feature_names(layers, dim)),
          layers=np.asarray(layers, dtype=np.int64), bundle=np.asarray(settings.bundle))
log.info("%s: %s SSL layers %s of %s on %s -> %s float16", w.recording, len(layers), layers, settings.bundle, device,
         values.shape)
