"""`collapsed`: a constant model, a model whose dev CCC never rose, and a healthy one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotrace.collapse import best_dev_ccc, reason, settings
from emotrace.errors import InputError

CFG = settings()


def test_constant_model_is_collapsed_and_a_learning_one_is_not():
    rng = np.random.default_rng(0)
    gold = rng.standard_normal(2000) * 0.3
    assert "near-constant" in reason(np.full(2000, 0.1), gold, None, "valence", CFG)
    wobble = 0.1 + 0.001 * rng.standard_normal(2000)  # 0.3 % of the gold's spread
    assert "near-constant" in reason(wobble, gold, None, "valence", CFG)
    assert reason(0.8 * gold + 0.1 * rng.standard_normal(2000), gold, None, "valence", CFG) == ""


def test_dev_ccc_that_never_rose_above_chance():
    gold = np.random.default_rng(1).standard_normal(500)
    flat = pd.DataFrame({"epoch": [1, 2, 3], "dev_ccc_valence": [-0.02, 0.01, 0.03], "dev_ccc_arousal": [0.2, 0.5, 0.6]})
    assert "never above 0.05" in reason(gold, gold, flat, "valence", CFG)
    assert reason(gold, gold, flat, "arousal", CFG) == ""
    assert best_dev_ccc(flat, "arousal") == pytest.approx(0.6)
    assert best_dev_ccc(None, "arousal") is None
    with pytest.raises(InputError, match="dev_ccc_dominance"):
        best_dev_ccc(flat, "dominance")
    with pytest.raises(InputError, match="unknown keys"):
        settings({"chance": 0.1})
