"""Scheduling order: features before trainings, long trainings before short ones (emotrace.priorities)."""

from __future__ import annotations

import yaml

from conftest import REPO
from emotrace import priorities, systems

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def settings(model: str) -> dict:
    config = {**CONFIG, "training": {"max_epochs": 4}}
    return systems.model_settings(config, model)


def test_default_run_orders_trainings_longest_first():
    audio = 20 * 45.0
    order = {m: (priorities.for_svr(settings(m)) if settings(m)["network"] == "svr"
                 else priorities.for_training(settings(m), audio, gpu=False)) for m in CONFIG["models"]}
    ranked = sorted(order, key=order.get, reverse=True)
    assert ranked[0] == "e2e"
    assert ranked.index("drnn_compare") < ranked.index("blstm6373") < ranked.index("svr_egemaps")
    assert max(order.values()) < priorities.FEATURES


def test_training_cost_grows_with_epochs_rates_and_audio():
    e2e = settings("e2e")
    base = priorities.expected_training_seconds(e2e, 600)
    assert priorities.expected_training_seconds({**e2e, "max_epochs": 8}, 600) == 2 * base
    assert priorities.expected_training_seconds({**e2e, "lr": [1e-4, 1e-3]}, 600) == 2 * base
    assert priorities.expected_training_seconds(e2e, 1200) == 2 * base
    plug_in = priorities.expected_training_seconds({**e2e, "network": "my.module:Net"}, 600)
    assert plug_in == max(priorities.EPOCH_CPU_SECONDS.values()) / priorities.EPOCH_CPU_SECONDS["e2e"] * base


def test_svr_cost_follows_its_frame_cap():
    svr = settings("svr_compare")
    small = priorities.expected_svr_seconds({**svr, "max_train_frames": 4000})
    assert priorities.expected_svr_seconds({**svr, "max_train_frames": 8000}) > 5 * small
    assert priorities.for_svr({**svr, "max_train_frames": 10**6}) < priorities.FEATURES


def test_on_a_gpu_trainings_follow_their_gpu_time_above_the_svrs(monkeypatch):
    """The paper grid on a GPU: the DRNN jobs (latency bound, three rates) first, e2e2017 after them although
    its CPU cost is the largest; every training above every SVR. Without a GPU, the CPU order as before."""
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())

    def order(gpu):
        return {m: (priorities.for_svr(s) if s["network"] == "svr" else priorities.for_training(s, 3600.0, gpu))
                for m, s in ((m, systems.model_settings(paper, m)) for m in paper["models"])}

    gpu, cpu = order(True), order(False)
    assert max(gpu, key=gpu.get).startswith("drnn") and gpu["e2e2017"] < gpu["drnn_egemaps"]
    assert max(cpu, key=cpu.get) == "e2e2017"
    assert min(v for m, v in gpu.items() if not m.startswith("svr")) > max(gpu["svr_compare"], gpu["svr_egemaps"])
    assert max(gpu.values()) < priorities.FEATURES
    monkeypatch.setenv("EMOTRACE_GPU_COUNT", "0")  # the machine's own answer: no GPU here
    assert priorities.for_training(systems.model_settings(paper, "e2e"), 3600.0) == cpu["e2e"]
