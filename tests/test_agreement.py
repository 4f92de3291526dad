"""The raters' ceiling on rater traces with known agreement, and raters.csv from ingestion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotrace.agreement import AGREEMENT_COLUMNS, agreement, cronbach_alpha, loo_ccc, pairwise_ccc
from emotrace.corpora.base import RATER_COLUMNS, CorpusAdapter
from emotrace.errors import InputError
from emotrace.ingest import rater_table
from emotrace.synth.raters import simulate_raters
from emotrace.uncertainty import settings

K, SIGMA = 5, 0.5  # raters = shared signal (variance 1) + own noise (variance SIGMA^2)


def noisy_raters(n: int, rng: np.random.Generator, k: int = K, sigma: float = SIGMA) -> np.ndarray:
    return rng.standard_normal((n, 1)) + sigma * rng.standard_normal((n, k))


def test_known_agreement_from_the_rating_model():
    """With x_k = s + e_k: LOO CCC 2/(2 + s2 + s2/(K-1)), pairwise 1/(1 + s2), alpha K/(K + s2)."""
    ratings = noisy_raters(200_000, np.random.default_rng(0))
    s2 = SIGMA**2
    assert loo_ccc(ratings).mean() == pytest.approx(2 / (2 + s2 + s2 / (K - 1)), abs=0.01)
    assert pairwise_ccc(ratings) == pytest.approx(1 / (1 + s2), abs=0.01)
    assert cronbach_alpha(ratings) == pytest.approx(K / (K + s2), abs=0.01)


def test_a_biased_rater_has_the_lowest_loo_ccc():
    ratings = noisy_raters(20_000, np.random.default_rng(1))
    ratings[:, 2] += 1.0  # far off in mean: concordance falls, correlation does not
    loo = loo_ccc(ratings)
    assert int(np.argmin(loo)) == 2 and loo[2] < loo.max() - 0.2


def tidy(ratings: dict[str, np.ndarray], dimension: str = "arousal") -> pd.DataFrame:
    rows = []
    for rec, matrix in ratings.items():
        for k in range(matrix.shape[1]):
            n = matrix.shape[0]
            rows.append(pd.DataFrame({"recording": rec, "dimension": dimension, "rater": f"R{k + 1}",
                                      "frame": np.arange(n), "time": np.arange(n) * 0.04, "value": matrix[:, k]}))
    return pd.concat(rows, ignore_index=True)[RATER_COLUMNS]


def test_agreement_per_partition_with_interval_around_the_ceiling():
    rng = np.random.default_rng(2)
    recs = {f"r{i}": noisy_raters(1500, rng) for i in range(6)}
    split = pd.DataFrame({"recording": list(recs), "partition": ["dev"] * 3 + ["test"] * 3})
    table = agreement(tidy(recs), split, settings({"replicates": 500}))
    assert list(table.columns) == AGREEMENT_COLUMNS
    assert table["partition"].tolist() == ["dev", "test"]
    truth = 2 / (2 + SIGMA**2 + SIGMA**2 / (K - 1))
    for row in table.itertuples():
        assert row.n_raters == K and row.n_recordings == 3 and row.n_frames == 4500
        assert row.loo_ccc_low < row.loo_ccc < row.loo_ccc_high
        assert row.loo_ccc_low < truth < row.loo_ccc_high
        assert row.loo_ccc_min <= row.loo_ccc <= row.loo_ccc_max


def test_generated_raters_agree_less_on_a_lagged_rater():
    """The generated corpus's raters (lag 2-3 s, scale, bias, drift) agree well but not perfectly."""
    rng = np.random.default_rng(3)
    hidden = np.cumsum(rng.standard_normal(3000)) * 0.01
    ratings = simulate_raters(hidden, 0.04, rng)
    loo = loo_ccc(ratings)
    assert 0.3 < loo.mean() < 0.99 and cronbach_alpha(ratings) > loo.mean()


def test_no_raters_gives_an_empty_table_and_raters_missing_a_recording_are_left_out():
    split = pd.DataFrame({"recording": ["a", "b"], "partition": ["dev", "dev"]})
    assert agreement(pd.DataFrame(columns=RATER_COLUMNS), split, settings()).empty
    rng = np.random.default_rng(4)
    data = tidy({"a": noisy_raters(600, rng, k=3), "b": noisy_raters(600, rng, k=2)})
    table = agreement(data, split, settings({"replicates": 200}))
    assert table["n_raters"].tolist() == [2]
    with pytest.raises(InputError, match="fewer than two raters"):
        agreement(data[data["rater"] != "R2"], split, settings({"replicates": 200}))
    with pytest.raises(InputError, match="in no partition"):
        agreement(data, split.iloc[:1], settings({"replicates": 200}))


class _Adapter(CorpusAdapter):
    name = "test-raters"

    def __init__(self, raters):
        self._raters = raters

    def manifest(self):
        raise NotImplementedError

    def labels(self, dimensions, step):
        raise NotImplementedError

    def rater_labels(self, dimensions, step):
        return self._raters


def test_rater_table_checks_frames_and_says_when_there_are_none():
    labels = pd.DataFrame({"recording": "a", "dimension": "arousal", "frame": np.arange(10),
                           "time": np.arange(10) * 0.04, "value": 0.0})
    empty = rater_table(_Adapter(None), ["arousal"], 0.04, labels)
    assert list(empty.columns) == RATER_COLUMNS and empty.empty
    good = tidy({"a": np.zeros((10, 2))})
    assert len(rater_table(_Adapter(good), ["arousal"], 0.04, labels)) == 20
    with pytest.raises(InputError, match="outside the gold standard"):
        rater_table(_Adapter(tidy({"a": np.zeros((11, 2))})), ["arousal"], 0.04, labels)
