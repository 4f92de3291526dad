"""Resource requests from input sizes: they grow with the corpus, retries ask for more, the default run fits here."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.iocontainers import InputFiles
from snakemake.utils import validate

from emotrace import resources
from emotrace.errors import InputError

REPO = Path(__file__).resolve().parents[1]
MACHINE_MB = 24 * 1024  # this machine: 24 GiB, 2 cores


def load_config(path: Path) -> dict:
    """A config as the workflow sees it: validated, with the schema's defaults filled in."""
    config = yaml.safe_load(path.read_text())
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    return config


def inputs(**named: list[str]) -> InputFiles:
    """A job's named inputs, as Snakemake hands them to a resource callable."""
    files = InputFiles([p for paths in named.values() for p in paths])
    start = 0
    for name, paths in named.items():
        files._set_name(name, start, start + len(paths))
        start += len(paths)
    return files


def sized(folder: Path, name: str, mib: float) -> str:
    """A file of `mib` MiB (sparse: its size is all a request reads)."""
    path = folder / name
    with open(path, "wb") as fh:
        fh.truncate(int(mib * resources.MIB))
    return str(path)


def test_files_mb_counts_existing_files_only(tmp_path):
    a = sized(tmp_path, "a", 2.0)
    assert resources.files_mb([a, tmp_path / "missing"]) == pytest.approx(2.0)


def test_training_request_grows_in_time_not_in_memory_with_the_segments_it_reads(tmp_path):
    """Datasets read each segment's audio when it is used (emotrace.data), so four times the segments take
    longer but need no more memory than their labels; a larger batch needs more."""
    settings = {"network": "e2e", "batch_size": 50, "max_epochs": 30, "lr": 2e-3}
    small = inputs(segments=[sized(tmp_path, "s1", 50)], split=[sized(tmp_path, "split", 0.01)])
    large = inputs(segments=[sized(tmp_path, f"l{i}", 200) for i in range(4)], split=[str(tmp_path / "split")])
    r_small = resources.for_training(settings, small, 1)
    r_large = resources.for_training(settings, large, 1)
    assert r_small["mem_mb"] <= r_large["mem_mb"] <= r_small["mem_mb"] + 100  # 750 MiB more audio, read per item
    assert r_large["runtime"] > r_small["runtime"]
    assert resources.for_training({**settings, "batch_size": 100}, small, 1)["mem_mb"] > r_small["mem_mb"] + 5000
    retry = resources.for_training(settings, large, 2)
    assert retry == {"mem_mb": 2 * r_large["mem_mb"], "runtime": 2 * r_large["runtime"]}


def test_feature_models_do_not_count_the_feature_files(tmp_path):
    segments = [sized(tmp_path, "seg", 400)]
    settings = {"network": "blstm6373", "batch_size": 25, "max_epochs": 30, "lr": [1e-3, 1e-2]}
    few = resources.for_training(settings, inputs(segments=segments, features=[sized(tmp_path, "f", 50)]), 1)
    many = resources.for_training(settings, inputs(segments=segments, features=[sized(tmp_path, "g", 3000)]), 1)
    assert few == many
    one_batch = 25 * resources.ACTIVATION_MB["blstm6373"]
    assert few["mem_mb"] < resources.MARGIN * (resources.BASE_MB["torch"] + one_batch + 100)


def test_feature_extraction_request_follows_audio_length_and_feature_width(tmp_path):
    class W:
        featureset = "compare6373"

    five_min = inputs(audio=[sized(tmp_path, "5min.npy", 300 * 16000 * 4 / resources.MIB)])
    hour = inputs(audio=[sized(tmp_path, "1h.npy", 3600 * 16000 * 4 / resources.MIB)])
    r5, r60 = resources.for_features(W, five_min, 1), resources.for_features(W, hour, 1)
    assert r60["mem_mb"] > 8 * r5["mem_mb"] / 2 and r60["runtime"] >= r5["runtime"]
    ten_hours = resources.features_request(36000 * 16000 * 4 / resources.MIB, "compare6373")
    assert ten_hours["runtime"] > resources.MIN_RUNTIME  # openSMILE's rate decides, not the floor
    assert resources.features_request(100, "egemaps")["mem_mb"] < resources.features_request(100, "compare6373")["mem_mb"]
    with pytest.raises(InputError, match="featureset"):
        resources.features_request(100, "mfcc")


def test_figure_and_svr_requests_grow_with_their_inputs(tmp_path):
    small = inputs(model=[sized(tmp_path, "m", 25)], segments=[sized(tmp_path, "t", 10)])
    large = inputs(model=[str(tmp_path / "m")], segments=[sized(tmp_path, f"t{i}", 100) for i in range(3)])
    assert resources.for_figure(large, 1)["mem_mb"] > resources.for_figure(small, 1)["mem_mb"]
    tables = inputs(**{"predictions": [sized(tmp_path, "p.csv", 200)]})
    assert resources.for_figure(tables, 1)["mem_mb"] > resources.figure_request(0.0)["mem_mb"]
    svr = {"c_grid": [1e-3, 1e-1]}
    little = resources.for_svr(svr, inputs(features=[sized(tmp_path, "f", 10)]), 1)
    more = resources.for_svr(svr, inputs(features=[sized(tmp_path, f"f{i}", 500) for i in range(2)]), 1)
    assert more["mem_mb"] > little["mem_mb"]


def test_expected_sizes_match_the_segment_and_feature_files(tmp_path):
    """The planning estimate counts segments the way emotrace.segments tiles a recording."""
    from emotrace.segments import segment_starts

    config = load_config(REPO / "config.yaml")
    sizes = resources.expected_sizes(config)
    frames = int(config["synthetic"]["duration"] / 0.04) + 1
    n, hop = config["synthetic"]["n_speakers"], round(config["segments"]["train_hop"] / 0.04)
    n_train = n * config["split"]["proportions"]["train"] / sum(config["split"]["proportions"].values())
    segments = n_train * len(segment_starts(frames, hop)) + (n - n_train) * len(segment_starts(frames, None))
    assert sizes["segments"] == pytest.approx(segments * resources.SEGMENT_FILE_MB, rel=0.01)
    assert sizes["audio"] == pytest.approx(config["synthetic"]["duration"] * 16000 * 4 / resources.MIB)


def test_default_run_fits_this_machine_and_recola_asks_for_more():
    default = resources.plan(load_config(REPO / "config.yaml"))
    recola = resources.plan(load_config(REPO / "configs" / "scale_recola.yaml"))
    assert {"train_network/e2e", "train_svr/svr_egemaps", "extract_features/compare6373", "figures"} <= set(default)
    for job, request in default.items():
        assert request["mem_mb"] <= MACHINE_MB, f"{job} asks for {request['mem_mb']} MB, more than this machine's"
    for job in set(default) & set(recola):
        assert recola[job]["mem_mb"] >= default[job]["mem_mb"], job
        assert recola[job]["runtime"] >= default[job]["runtime"], job
    assert recola["train_network/e2e"]["runtime"] > default["train_network/e2e"]["runtime"]  # 3.8 h of audio
    assert recola["extract_features/compare6373"]["mem_mb"] > default["extract_features/compare6373"]["mem_mb"]


def test_bigger_corpus_raises_every_data_dependent_request():
    config = load_config(REPO / "config.yaml")
    bigger = copy.deepcopy(config)
    bigger["synthetic"].update(n_speakers=4 * config["synthetic"]["n_speakers"], duration=300)
    small, large = resources.plan(config), resources.plan(bigger)
    for job in small:
        assert large[job]["mem_mb"] >= small[job]["mem_mb"] and large[job]["runtime"] >= small[job]["runtime"], job
        if job.startswith("train_network/"):  # datasets read inputs per item: memory bounded by the batch
            assert large[job]["mem_mb"] <= small[job]["mem_mb"] + 100, job
        elif small[job]["mem_mb"] > resources.MIN_MEM_MB:  # above the floor, more data means a larger request
            assert large[job]["mem_mb"] > small[job]["mem_mb"], job
    assert large["train_network/e2e"]["runtime"] > small["train_network/e2e"]["runtime"]


def test_attempt_must_be_positive():
    with pytest.raises(InputError, match="attempt"):
        resources.train_request("e2e", 10, 1, 1, 10.0, attempt=0)


@pytest.mark.integration
def test_rules_request_what_their_inputs_size_says(tiny_run):
    """A dry run of the finished tiny run's trainings prints the requests computed from the files they read."""
    from conftest import TINY, snakemake

    from emotrace import systems

    proc = snakemake(tiny_run, "-n", "--configfile", str(TINY), "--cores", "2", "--forcerun", "train_network",
                     "extract_features")
    printed = {}
    for block in proc.stdout.split("\nrule ")[1:]:
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
        if "resources" in fields and "wildcards" in fields:
            wildcards = dict(kv.split("=", 1) for kv in fields["wildcards"].split(", "))
            res = dict(kv.split("=", 1) for kv in fields["resources"].split(", "))
            if "mem_mb" in res:
                printed[(block.split(":")[0], tuple(sorted(wildcards.items())))] = (int(res["mem_mb"]),
                                                                                  int(res["runtime"]))
    config = load_config(TINY)
    segments = sorted(str(p) for p in (tiny_run / "results" / "tiny" / "segment").glob("*.npz"))
    settings = systems.model_settings(config, "e2e")
    wanted = resources.for_training(settings, inputs(segments=segments), 1)
    key = ("train_network", (("model", "e2e"), ("objective", "ccc"), ("seed", "1"), ("target", "arousal")))
    assert printed[key] == (wanted["mem_mb"], wanted["runtime"]), printed
    audio = tiny_run / "results" / "tiny" / "preprocess" / "S01.npy"
    wanted = resources.features_request(resources.files_mb([audio]), "compare6373")
    key = ("extract_features", (("featureset", "compare6373"), ("recording", "S01")))
    assert printed[key] == (wanted["mem_mb"], wanted["runtime"]), printed


def test_a_job_with_a_gpu_asks_for_gpu_rates_not_a_day_of_a_node():
    """At RECOLA size e2e asks for the 24 h cap at CPU rates; on a GPU for hours at most, GPU memory from its size."""
    config = load_config(REPO / "configs" / "paper.yaml")
    segments_mb = resources.expected_sizes(config)["segments"]
    for network in ("e2e", "drnn", "blstm6373"):
        settings = {"e2e": (50, 1), "drnn": (5, 3), "blstm6373": (50, 1)}[network]
        cpu = resources.train_request(network, settings[0], 100, settings[1], segments_mb)
        gpu = resources.train_request(network, settings[0], 100, settings[1], segments_mb, gpu=True)
        assert gpu["runtime"] < cpu["runtime"] / 3, (network, cpu, gpu)
        assert gpu["runtime"] <= 8 * 60 and gpu["mem_mb"] <= cpu["mem_mb"], (network, gpu)
        assert resources.MIN_MEM_MB <= gpu["mem_mb"] and "gpu_mem_mb" not in cpu
    assert resources.train_request("e2e", 50, 100, 1, segments_mb)["runtime"] == resources.MAX_RUNTIME
    drnn = resources.train_request("drnn", 5, 100, 3, segments_mb, gpu=True)
    assert resources.train_request("drnn", 5, 100, 3, 4 * segments_mb, gpu=True)["runtime"] > drnn["runtime"]
    small = resources.train_request("e2e", 50, 100, 1, segments_mb, gpu=True)
    # GPU memory: the weights' copies and one batch of activations per training side by side
    assert resources.train_request("e2e", 100, 100, 1, segments_mb, gpu=True)["gpu_mem_mb"] > small["gpu_mem_mb"]
    assert resources.train_request("e2e", 50, 100, 3, segments_mb, gpu=True)["gpu_mem_mb"] > small["gpu_mem_mb"]
    bigger = resources.train_request("e2e", 50, 100, 1, segments_mb, gpu=True, n_parameters=100_000_000)
    assert bigger["gpu_mem_mb"] > small["gpu_mem_mb"] + 1000
    assert resources.train_request("e2e", 50, 100, 1, segments_mb, attempt=2, gpu=True)["runtime"] == 2 * small["runtime"]


def test_training_jobs_get_a_gpu_on_a_cluster_or_where_one_is_visible(monkeypatch):
    monkeypatch.setenv("EMOTRACE_GPU_COUNT", "0")
    assert resources.gets_gpu(local_exec=False) and not resources.gets_gpu(local_exec=True)
    monkeypatch.setenv("EMOTRACE_GPU_COUNT", "2")
    assert resources.gets_gpu(local_exec=True)
    monkeypatch.delenv("EMOTRACE_GPU_COUNT")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not resources.gets_gpu(local_exec=True)
