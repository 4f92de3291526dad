"""The experiment grid: per-model seeds replace the top-level list."""

from emotrace import systems


def _config(**model_keys) -> dict:
    return {
        "corpus": {"dimensions": ["arousal", "valence"]},
        "seeds": [1],
        "training": {"max_epochs": 2, "patience": 1},
        "models": {
            "e2e": {"network": "e2e", "objectives": ["ccc"]},
            "drnn_egemaps": {"network": "drnn", "features": "egemaps", "objectives": ["mse"], **model_keys},
        },
    }


def test_top_level_seeds_apply_to_every_model():
    runs = systems.grid(_config())
    assert sorted((s.model, s.seed) for s in runs) == [("drnn_egemaps", 1)] * 2 + [("e2e", 1)] * 2


def test_model_seeds_replace_the_top_level_list_for_that_model_only():
    runs = systems.grid(_config(seeds=[1, 2, 3]))
    drnn = sorted((s.target, s.seed) for s in runs if s.model == "drnn_egemaps")
    assert drnn == [(t, k) for t in ("arousal", "valence") for k in (1, 2, 3)]
    assert {s.seed for s in runs if s.model == "e2e"} == {1}
