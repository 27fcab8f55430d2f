"""Classical item statistics: what a psychometrician looks at before an IRT calibration.

Computed on the observed responses only (sparse data cost nothing), in the scored
categories ``0 .. K-1``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.data import ResponseData


def item_statistics(data: ResponseData) -> pd.DataFrame:
    """Per-item counts, mean score and item-rest correlation.

    The rest score of a person for item ``j`` is the sum of that person's scored responses
    to the other items they answered; the item-rest correlation is Pearson's correlation of
    the item score with the rest score over the persons who answered item ``j``. A negative
    or near-zero value flags an item that does not measure what the others measure
    (miskeyed, reverse worded, or off-construct), which a free-slope IRT model will turn into
    a negative or vanishing slope.

    Parameters
    ----------
    data : ResponseData

    Returns
    -------
    pandas.DataFrame
        Indexed by ``item_id``, columns ``n`` (responses), ``mean`` (mean scored category),
        ``p`` (mean divided by the top category ``K - 1``: proportion correct for
        dichotomous items, in [0, 1]), ``sd`` and ``item_rest_r`` (NaN when the item or its
        rest score has no variance).

    Examples
    --------
    >>> import pandas as pd
    >>> from calibration import read_responses
    >>> frame = pd.DataFrame({"q1": [0, 1, 1, 0], "q2": [0, 1, 1, 1], "q3": [1, 0, 0, 1]})
    >>> item_statistics(read_responses(frame))["item_rest_r"].round(3).tolist()
    [-0.577, nan, -0.905]
    """
    n_items = data.n_items
    x = data.category.astype(float)
    total = np.bincount(data.person, weights=x, minlength=data.n_persons)
    rest = total[data.person] - x

    def by_item(values: np.ndarray) -> np.ndarray:
        return np.bincount(data.item, weights=values, minlength=n_items)

    n = np.bincount(data.item, minlength=n_items).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x, mean_r = by_item(x) / n, by_item(rest) / n
        var_x = by_item(x * x) / n - mean_x**2
        var_r = by_item(rest * rest) / n - mean_r**2
        cov = by_item(x * rest) / n - mean_x * mean_r
        tiny = 1e-12 * (1.0 + np.abs(mean_r) ** 2)
        r = np.where((var_x > 1e-12) & (var_r > tiny), cov / np.sqrt(var_x * var_r), np.nan)
        top = np.maximum(data.n_categories - 1, 1)
        return pd.DataFrame(
            {
                "n": n.astype(np.int64),
                "mean": mean_x,
                "p": mean_x / top,
                "sd": np.sqrt(np.maximum(var_x, 0.0)),
                "item_rest_r": r,
            },
            index=pd.Index(data.item_ids, name="item_id"),
        )
