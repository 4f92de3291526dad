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
                 else priorities.for_training(settings(m), audio)) for m in CONFIG["models"]}
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
