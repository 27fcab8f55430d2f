"""Item fit: S-X2 (Orlando & Thissen), infit/outfit mean squares, and RMSD.

* **S-X2** compares, within each summed-score group, the observed proportion in each
  category with the model's expectation computed by the Lord-Wingersky recursion (Orlando &
  Thissen, 2000; Kang & Chen, 2008 for polytomous items). It needs complete data (every
  person answered every calibrated item); otherwise its columns are NaN and the reason is
  in ``DataFrame.attrs["notes"]``. Score groups are pooled from the tails inward until
  every expected count is at least ``min_expected`` (1, as in mirt);
  ``df = groups x (K - 1) - free parameters of the item``.
* **Infit / outfit** mean squares (Wright & Masters, 1982) of the standardised residuals
  at each person's EAP estimate (from the engine's estimator), with the Wilson-Hilferty
  standardisation ``ZSTD`` and a two-sided normal p-value (approximate, as in Winsteps and
  mirt).
* **RMSD** (root mean squared deviation, as in PISA / NAEP): for each item, the distance
  between the posterior-expected proportions in each category at each quadrature point and
  the model's, weighted by the posterior distribution of the persons who answered it. It
  uses the same expected counts as the EM, so it works on incomplete and adaptive data.
  ``RMSD = sqrt(sum_q f_q sum_k (pi_kq - P_kq)^2 / 2)`` (for dichotomous items the usual
  ``sqrt(sum_q f_q (pi_q - P_q)^2)``); values above about 0.1 flag misfit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from calibration._layout import FloatArray

if TYPE_CHECKING:
    from calibration.results import CalibrationResult

FIT_STATISTICS = ("sx2", "infit", "rmsd")


def rmsd(result: CalibrationResult) -> FloatArray:
    """RMSD of every calibrated item, (n_items,); works with missing data."""
    problem = result.problem
    _, counts, _ = problem.estep(result.beta)
    logp = problem.log_prob_matrix(problem.unpack(result.beta))  # (sum K, Q)
    return rmsd_from_counts(counts, logp, problem.design.col_offset)


def rmsd_from_counts(counts: FloatArray, logp: FloatArray, off: FloatArray) -> FloatArray:
    """RMSD of each item from expected counts and log-probabilities, both (sum K, Q).

    ``off`` holds the first column of each item (``off[-1]`` = sum K).
    """
    out = np.empty(off.size - 1)
    for j in range(off.size - 1):
        r = counts[off[j] : off[j + 1]]  # (K, Q)
        n_q = r.sum(axis=0)
        f = n_q / n_q.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            pi = np.where(n_q > 0, r / n_q, 0.0)
        p = np.exp(logp[off[j] : off[j + 1]])
        out[j] = np.sqrt(np.sum(f * ((pi - p) ** 2).sum(axis=0)) / 2.0)
    return out


def infit_outfit(result: CalibrationResult, theta: FloatArray) -> pd.DataFrame:
    """Infit and outfit mean squares with ZSTD and p-values at given person abilities.

    Parameters
    ----------
    result : CalibrationResult
    theta : ndarray, (n_persons,)
        Person estimates (for example EAP), in the order of ``result.data.person_ids``.

    Returns
    -------
    DataFrame
        Columns ``infit, infit_z, infit_p, outfit, outfit_z, outfit_p``, by item id.
    """
    data = result.data
    values = result.problem.unpack(result.beta)
    where = {}
    for g, v in zip(result.problem.groups, values, strict=True):
        for r, j in enumerate(g.items):
            where[int(j)] = (g.model, v[r : r + 1])
    rows = []
    order = np.argsort(data.item, kind="stable")
    bounds = np.searchsorted(data.item[order], np.arange(data.n_items + 1))
    for j in range(data.n_items):
        sel = order[bounds[j] : bounds[j + 1]]
        persons = data.person[sel]
        x = data.category[sel].astype(float)
        model, params = where[j]
        p = model.prob(theta[persons], params)[:, 0, :]  # (n, K)
        k = np.arange(p.shape[1])
        e = p @ k
        w = p @ k**2 - e**2
        c = ((k[None, :] - e[:, None]) ** 4 * p).sum(axis=1)
        w = np.maximum(w, 1e-12)
        n = x.size
        resid2 = (x - e) ** 2
        outfit = float(np.mean(resid2 / w))
        infit = float(resid2.sum() / w.sum())
        q_out = np.sqrt(max(np.sum(c / w**2) / n**2 - 1.0 / n, 1e-12))
        q_in = np.sqrt(max(np.sum(c - w**2) / w.sum() ** 2, 1e-12))
        z_out = (np.cbrt(outfit) - 1.0) * (3.0 / q_out) + q_out / 3.0
        z_in = (np.cbrt(infit) - 1.0) * (3.0 / q_in) + q_in / 3.0
        rows.append(
            (
                infit,
                z_in,
                2 * stats.norm.sf(abs(z_in)),
                outfit,
                z_out,
                2 * stats.norm.sf(abs(z_out)),
            )
        )
    return pd.DataFrame(
        rows,
        index=pd.Index(data.item_ids, name="item_id"),
        columns=["infit", "infit_z", "infit_p", "outfit", "outfit_z", "outfit_p"],
    )


def _score_distributions(p: FloatArray) -> FloatArray:
    """Lord-Wingersky recursion: P(summed score = s | theta_q) of a set of items.

    Parameters
    ----------
    p : ndarray, (n_items, K_max, Q)
        Category probabilities, zero-padded.

    Returns
    -------
    ndarray, (S + 1, Q)
    """
    n_items, k_max, n_q = p.shape
    dist = np.zeros((n_items * (k_max - 1) + 1, n_q))
    dist[0] = 1.0
    top = 0
    for j in range(n_items):
        new = np.zeros_like(dist)
        for k in range(k_max):
            if np.any(p[j, k]):
                new[k : top + k + 1] += dist[: top + 1] * p[j, k]
        top += k_max - 1
        dist = new
    return dist


def sx2(result: CalibrationResult, min_expected: float = 1.0) -> pd.DataFrame:
    """S-X2 item fit statistics (complete data only).

    Parameters
    ----------
    result : CalibrationResult
    min_expected : float, default 1.0
        Smallest expected count of a cell; score groups are pooled until it is reached.

    Returns
    -------
    DataFrame
        Columns ``sx2, sx2_df, sx2_p`` by item id (NaN when the data are incomplete).
    """
    data = result.data
    index = pd.Index(data.item_ids, name="item_id")
    frame = pd.DataFrame(np.nan, index=index, columns=["sx2", "sx2_df", "sx2_p"])
    reasons: dict[str, str] = {}
    frame.attrs["item_notes"] = reasons
    if data.n_observed != data.n_persons * data.n_items:
        n_missing = data.n_persons * data.n_items - data.n_observed
        why = (
            f"S-X2 needs complete data: {n_missing} of {data.n_persons * data.n_items} "
            "responses are missing (summed scores are not comparable across persons); "
            "RMSD and infit/outfit are given for incomplete data"
        )
        frame.attrs["notes"] = [why]
        reasons.update(dict.fromkeys(data.item_ids, "incomplete data"))
        return frame
    problem = result.problem
    k = data.n_categories
    k_max = int(k.max())
    logp = problem.log_prob_matrix(problem.unpack(result.beta))
    off = problem.design.col_offset
    n_q = problem.theta.size
    p = np.zeros((data.n_items, k_max, n_q))
    for j in range(data.n_items):
        p[j, : k[j]] = np.exp(logp[off[j] : off[j + 1]])
    weights = np.exp(problem.log_weights)
    matrix = data.to_matrix()
    total = matrix.sum(axis=1)
    n_scores = data.n_items * (k_max - 1) + 1
    n_s = np.bincount(total, minlength=n_scores).astype(float)
    full = _score_distributions(p) @ weights  # (S + 1,)
    n_free = _free_params_per_item(result)
    for j in range(data.n_items):
        rest = _score_distributions(np.delete(p, j, axis=0))  # (S' + 1, Q)
        kj = int(k[j])
        expected = np.zeros((n_scores, kj))
        for c in range(kj):
            expected[c : c + rest.shape[0], c] = (rest * p[j, c]) @ weights
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = expected / full[:, None]
        observed = np.bincount(total * kj + matrix[:, j], minlength=n_scores * kj)
        observed = observed.reshape(n_scores, kj).astype(float)
        # groups: scores that can hold every category of item j
        lo, hi = kj - 1, int((k - 1).sum()) - (kj - 1)
        if hi < lo:
            reasons[data.item_ids[j]] = "no summed score can hold every category of the item"
            continue
        groups = [[s] for s in range(lo, hi + 1) if n_s[s] > 0]
        stat_groups = _pool(groups, n_s, expected, min_expected)
        if not stat_groups:
            reasons[data.item_ids[j]] = "no score group with persons"
            continue
        x2 = 0.0
        for grp in stat_groups:
            n_g = n_s[grp].sum()
            e_g = (n_s[grp, None] * expected[grp]).sum(axis=0)
            o_g = observed[grp].sum(axis=0)
            x2 += float(np.sum((o_g - e_g) ** 2 / np.maximum(e_g, 1e-12)))
            del n_g
        df = len(stat_groups) * (kj - 1) - n_free[j]
        if df <= 0:  # a degree of freedom is never negative: too few persons for S-X2
            reasons[data.item_ids[j]] = (
                f"too few persons: pooled to expected counts >= {min_expected:g}, "
                f"{len(stat_groups)} score group(s) leave no degree of freedom for the "
                f"item's {n_free[j]:g} parameters"
            )
            continue
        frame.iloc[j] = [x2, df, stats.chi2.sf(x2, df)]
    if reasons:
        frame.attrs["notes"] = [
            f"S-X2 not computed for {len(reasons)} item(s): "
            + "; ".join(f"{i} ({r})" for i, r in list(reasons.items())[:5])
            + (" ..." if len(reasons) > 5 else "")
        ]
    return frame


def _pool(
    groups: list[list[int]], n_s: FloatArray, expected: FloatArray, min_expected: float
) -> list[list[int]]:
    """Pool adjacent score groups from each tail until every expected count is large."""

    def small(grp: list[int]) -> bool:
        return bool(np.any((n_s[grp, None] * expected[grp]).sum(axis=0) < min_expected))

    groups = [g for g in groups]
    while len(groups) > 1 and small(groups[0]):
        groups[1] = groups[0] + groups[1]
        groups.pop(0)
    while len(groups) > 1 and small(groups[-1]):
        groups[-2] = groups[-2] + groups[-1]
        groups.pop()
    # pool interior groups that are still too small with their right neighbour
    i = 0
    while i < len(groups) - 1:
        if small(groups[i]):
            groups[i + 1] = groups[i] + groups[i + 1]
            groups.pop(i)
        else:
            i += 1
    return groups


def _free_params_per_item(result: CalibrationResult) -> FloatArray:
    """Number of free parameters of each item (shared parameters count fractionally)."""
    out = np.zeros(result.data.n_items)
    for g in result.problem.groups:
        if g.jac is not None:
            per_row = np.abs(g.jac).reshape(g.offset.shape[0], g.n_params, -1).sum(axis=1)
            share = per_row / np.maximum(per_row.sum(axis=0, keepdims=True), 1e-12)
            out[g.items] = share.sum(axis=1)
        else:
            out[g.items[g.free_rows]] = g.n_params
    return out
