"""Classical item statistics against pandas computed directly on the wide table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration import read_responses
from calibration.classical import item_statistics


def _wide_with_missing(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=600)
    a = rng.uniform(0.5, 2.0, 8)
    a[3] = -1.0  # a reverse-keyed item: negative item-rest correlation
    b = rng.normal(size=8)
    prob = 1 / (1 + np.exp(-a * (theta[:, None] - b)))
    scores = (rng.random(prob.shape) < prob).astype(float)
    scores[:, 7] += (rng.random(600) < 0.5) * scores[:, 7]  # a 3-category item: 0, 1, 2
    scores[rng.random(scores.shape) < 0.25] = np.nan
    frame = pd.DataFrame(scores, columns=[f"i{j}" for j in range(8)])
    return frame.dropna(how="all")


def test_item_statistics_equal_pandas_on_incomplete_data() -> None:
    frame = _wide_with_missing()
    stats = item_statistics(read_responses(frame))
    total = frame.sum(axis=1, skipna=True)
    for item in frame.columns:
        answered = frame[item].notna()
        x = frame.loc[answered, item]
        rest = total[answered] - x
        assert stats.loc[item, "n"] == answered.sum()
        np.testing.assert_allclose(stats.loc[item, "mean"], x.mean(), rtol=1e-12)
        np.testing.assert_allclose(stats.loc[item, "sd"], x.std(ddof=0), rtol=1e-10)
        np.testing.assert_allclose(stats.loc[item, "item_rest_r"], x.corr(rest), rtol=1e-9)
    assert stats.loc["i3", "item_rest_r"] < -0.1 < stats.drop(index="i3")["item_rest_r"].min()
    np.testing.assert_allclose(stats.loc["i7", "p"], stats.loc["i7", "mean"] / 2)


def test_constant_item_or_rest_gives_nan_not_a_number_from_noise() -> None:
    frame = pd.DataFrame({"q1": [1, 1, 1, 1], "q2": [0, 1, 1, 0], "q3": [0, 1, 0, 1]})
    stats = item_statistics(read_responses(frame, categories={"q1": [0, 1]}))
    assert np.isnan(stats.loc["q1", "item_rest_r"])
    np.testing.assert_allclose(stats.loc["q2", "item_rest_r"], 0.0, atol=1e-12)
