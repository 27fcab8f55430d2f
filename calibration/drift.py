"""Parameter drift between two calibrations and differential item functioning (DIF).

* :func:`parameter_drift`: per common item, a Wald test of the difference of its
  parameters between two calibrations on one scale (link the second first, see
  :mod:`calibration.linking`), ``chi2 = sum_p (after_p - before_p)^2 / (se_before_p^2 +
  se_after_p^2)`` with one degree of freedom per parameter (the covariance of one
  item's parameters is not stored in bank files), p-values controlled for the false
  discovery rate by Benjamini-Hochberg, and the size of the change in theta terms: the
  largest absolute difference of the item's expected score over a theta range.
* :func:`mantel_haenszel`: MH DIF of dichotomous items between a reference and a focal
  group matched on the total score (Holland & Thayer, 1988): common odds ratio
  ``alpha_MH``, ``MH D-DIF = -2.35 ln alpha_MH``, its SE (Robins, Breslow & Greenland,
  1986), the continuity-corrected MH chi-square, and the ETS class (Zwick, 2012):
  A when ``|D| < 1`` or the chi-square is not significant at 0.05, C when ``|D| >= 1.5``
  and ``|D|`` is significantly above 1 (one-sided 0.05), B otherwise.
* :func:`lr_dif`: the IRT likelihood-ratio test of each item's parameters being equal in
  two groups, the other items fixed at their calibrated values and each group's normal
  distribution estimated from them (the anchors-all-other design of IRTLRDIF).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from calibration.data import ResponseData
from calibration.estimation import normal_log_weights, quadrature
from calibration.latent import estimate_latent, person_loglik, person_posterior
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError
from item_banks.models import get_model


def _expected_scores(bank: ItemBank, item_ids: list[str], theta: np.ndarray) -> np.ndarray:
    prob = bank.prob(theta, bank.indices_of(item_ids))  # (T, n, K)
    return prob @ np.arange(prob.shape[2])


def parameter_drift(
    before: ItemBank,
    after: ItemBank,
    *,
    items: list[str] | None = None,
    alpha: float = 0.05,
    theta_range: tuple[float, float] = (-3.0, 3.0),
) -> pd.DataFrame:
    """Wald tests of parameter drift with Benjamini-Hochberg control.

    Parameters
    ----------
    before, after : ItemBank
        Two calibrations on the same scale (apply a link to ``after`` first), with SEs.
    items : list of str, optional
        Common items to test (default every item in both).
    alpha : float in (0, 1), default 0.05
        False discovery rate of the flags.
    theta_range : (float, float), default (-3, 3)
        Where the change in expected score is measured.

    Returns
    -------
    DataFrame
        By ``item_id``, sorted by p-value: ``chi2, df, p, q`` (BH-adjusted), ``flagged``
        (``q <= alpha``), ``size`` (largest |expected score after - before| over
        ``theta_range``), ``theta_at`` (where it is largest) and ``d_<param>`` (the
        differences).

    Raises
    ------
    CalibrationError
        No common item, a model that differs, or missing SEs.
    """
    if not 0 < alpha < 1:
        raise CalibrationError(f"alpha must be in (0, 1), got {alpha!r}")
    ids = items if items is not None else [i for i in before.item_ids if i in after]
    if not ids:
        raise CalibrationError("no common item between the two calibrations")
    theta = np.linspace(theta_range[0], theta_range[1], 121)
    e_before = _expected_scores(before, ids, theta)
    e_after = _expected_scores(after, ids, theta)
    rows = {}
    problems = []
    for n, item_id in enumerate(ids):
        b, a = before[item_id], after[item_id]
        if b.model != a.model or b.n_categories != a.n_categories:
            problems.append(f"item {item_id!r}: {b.model} before, {a.model} after")
            continue
        names = get_model(b.model).param_names(b.n_categories)
        missing = [x for x in names if x not in b.se or x not in a.se]
        if missing:
            problems.append(f"item {item_id!r}: no standard error of {', '.join(missing)}")
            continue
        diff = np.array([a.params[x] - b.params[x] for x in names])
        var = np.array([b.se[x] ** 2 + a.se[x] ** 2 for x in names])
        chi2 = float(np.sum(diff**2 / var))
        gap = np.abs(e_after[:, n] - e_before[:, n])
        rows[item_id] = {
            "chi2": chi2,
            "df": len(names),
            "p": float(stats.chi2.sf(chi2, len(names))),
            "size": float(gap.max()),
            "theta_at": float(theta[gap.argmax()]),
            **{f"d_{x}": float(d) for x, d in zip(names, diff, strict=True)},
        }
    if problems:
        raise CalibrationError("cannot test drift: " + "; ".join(problems))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "item_id"
    table.insert(3, "q", stats.false_discovery_control(table["p"].to_numpy(), method="bh"))
    table.insert(4, "flagged", table["q"] <= alpha)
    return table.sort_values("p")


def _groups(
    data: ResponseData, groups: pd.Series, reference: str, focal: str
) -> tuple[np.ndarray, np.ndarray]:
    """Group of each person (0 reference, 1 focal, -1 neither) and the persons kept."""
    labels = groups.astype(str)
    labels.index = labels.index.astype(str)
    missing = [p for p in data.person_ids[:5] if p not in labels.index]
    if missing:
        raise CalibrationError(
            f"the group column has no value for person(s) {', '.join(map(repr, missing))}"
        )
    values = labels.reindex(list(data.person_ids)).to_numpy()
    for name in (reference, focal):
        if not (values == name).any():
            found = ", ".join(sorted(set(map(str, values)))[:10])
            raise CalibrationError(f"no person in group {name!r}; groups found: {found}")
    code = np.where(values == reference, 0, np.where(values == focal, 1, -1))
    return code, code >= 0


def mantel_haenszel(
    data: ResponseData,
    groups: pd.Series,
    reference: str,
    focal: str,
    *,
    items: list[str] | None = None,
) -> pd.DataFrame:
    """Mantel-Haenszel DIF of dichotomous items, matched on the total score.

    Parameters
    ----------
    data : ResponseData
        Complete dichotomous responses (persons with a missing response are left out).
    groups : Series
        Group label of each person, indexed by person id.
    reference, focal : str
        The two group labels compared (other persons are left out).
    items : list of str, optional
        Items studied (default all); the matching score is always the total of all items.

    Returns
    -------
    DataFrame
        By ``item_id``: ``n_reference, n_focal, alpha_mh, mh_d_dif, se_d_dif, chi2, p,
        ets`` ("A", "B" or "C"). ``mh_d_dif < 0`` means the item favours the reference
        group.
    """
    if np.any(data.n_categories != 2):
        raise CalibrationError("Mantel-Haenszel here needs dichotomous items (0/1)")
    code, keep = _groups(data, groups, reference, focal)
    x = data.to_matrix()
    complete = (x >= 0).all(axis=1)
    keep &= complete
    x, g = x[keep], code[keep]
    score = x.sum(axis=1)
    out = {}
    for item_id in items or list(data.item_ids):
        j = data.item_ids.index(item_id)
        num = den = 0.0
        sum_a = sum_e = sum_v = 0.0
        pr = ps_qr = qs = sr = ss = 0.0
        for k in np.unique(score):
            at = score == k
            ref, foc = at & (g == 0), at & (g == 1)
            n_r, n_f = int(ref.sum()), int(foc.sum())
            n_k = n_r + n_f
            if n_r == 0 or n_f == 0 or n_k < 2:
                continue
            A = float(x[ref, j].sum())
            B = n_r - A
            C = float(x[foc, j].sum())
            D = n_f - C
            m1, m0 = A + C, B + D
            R, S = A * D / n_k, B * C / n_k
            P, Q = (A + D) / n_k, (B + C) / n_k
            num += R
            den += S
            pr += P * R
            ps_qr += P * S + Q * R
            qs += Q * S
            sr, ss = num, den
            sum_a += A
            sum_e += n_r * m1 / n_k
            sum_v += n_r * n_f * m1 * m0 / (n_k**2 * (n_k - 1))
        if num == 0 or den == 0:
            alpha_mh, d, se = np.nan, np.nan, np.nan
        else:
            alpha_mh = num / den
            var_log = pr / (2 * sr**2) + ps_qr / (2 * sr * ss) + qs / (2 * ss**2)
            d = -2.35 * np.log(alpha_mh)
            se = 2.35 * np.sqrt(var_log)
        chi2 = (abs(sum_a - sum_e) - 0.5) ** 2 / sum_v if sum_v > 0 else np.nan
        p = float(stats.chi2.sf(chi2, 1)) if np.isfinite(chi2) else np.nan
        if not np.isfinite(d) or abs(d) < 1 or not p < 0.05:
            ets = "A"
        elif abs(d) >= 1.5 and (abs(d) - 1) / se > stats.norm.ppf(0.95):
            ets = "C"
        else:
            ets = "B"
        out[item_id] = {
            "n_reference": int((g == 0).sum()),
            "n_focal": int((g == 1).sum()),
            "alpha_mh": alpha_mh,
            "mh_d_dif": d,
            "se_d_dif": se,
            "chi2": chi2,
            "p": p,
            "ets": ets,
        }
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "item_id"
    table.attrs["notes"] = [f"{int((~complete).sum())} persons with missing responses left out"]
    return table


def lr_dif(
    data: ResponseData,
    bank: ItemBank,
    groups: pd.Series,
    reference: str,
    focal: str,
    *,
    items: list[str] | None = None,
    n_quad: int = 61,
) -> pd.DataFrame:
    """IRT likelihood-ratio DIF test of each item (two groups).

    For a studied item, every other item is held at its value in ``bank`` and each
    group's normal distribution is estimated from them; the item's parameters are then
    estimated once for both groups together (compact model) and once per group
    (augmented model), each maximising the exact marginal likelihood of the item's
    responses given the person's other responses. ``G2 = 2 (ll_augmented - ll_compact)``
    is chi-square with as many degrees of freedom as the item has parameters.

    Parameters
    ----------
    data : ResponseData
        Responses coded as the bank's categories (``0 .. K - 1``).
    bank : ItemBank
        A calibration of every item of ``data`` (for example on both groups together).
    groups, reference, focal
        As :func:`mantel_haenszel`.

    Returns
    -------
    DataFrame
        By ``item_id``: ``g2, df, p`` and the group estimates ``<param>_reference``,
        ``<param>_focal``.
    """
    code, keep = _groups(data, groups, reference, focal)
    data = data.subset_persons(keep)
    code = code[keep]
    theta, _ = quadrature(n_quad)
    total = person_loglik(data, bank, theta)
    matrix = data.to_matrix()
    out = {}
    for item_id in items or list(data.item_ids):
        j = data.item_ids.index(item_id)
        it = bank[item_id]
        model = get_model(it.model)
        names = model.param_names(it.n_categories)
        own = person_loglik(data.subset_items(np.arange(data.n_items) == j), bank, theta)
        rest = total - own
        answered = matrix[:, j] >= 0
        x = matrix[answered, j]
        post_parts = []
        for grp in (0, 1):
            sel = code == grp
            mean, sd, _ = estimate_latent(rest[sel], theta)
            post_parts.append(person_posterior(rest[sel], normal_log_weights(theta, mean, sd)))
        post = np.empty((data.n_persons, theta.size))
        for grp in (0, 1):
            post[code == grp] = post_parts[grp]
        post = post[answered]
        g_ans = code[answered]
        start = it.param_vector()

        k = it.n_categories
        ll_c, _ = _best(model, k, theta, post, x, start)
        ll_r, v_r = _best(model, k, theta, post[g_ans == 0], x[g_ans == 0], start)
        ll_f, v_f = _best(model, k, theta, post[g_ans == 1], x[g_ans == 1], start)
        g2 = max(2.0 * (ll_r + ll_f - ll_c), 0.0)
        out[item_id] = {
            "g2": g2,
            "df": len(names),
            "p": float(stats.chi2.sf(g2, len(names))),
            **{f"{n}_reference": float(v) for n, v in zip(names, v_r, strict=True)},
            **{f"{n}_focal": float(v) for n, v in zip(names, v_f, strict=True)},
        }
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "item_id"
    return table


def _best(
    model: object, k: int, theta: np.ndarray, post: np.ndarray, x: np.ndarray, start: np.ndarray
) -> tuple[float, np.ndarray]:
    """Largest marginal log-likelihood of one item's responses ``x`` given posteriors."""

    def negll(v: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            lp = model.log_prob(theta, v[None, :])[:, 0, :]  # type: ignore[attr-defined]
        if not np.all(np.isfinite(lp[:, :k])):
            return 1e300
        like = (post * np.exp(lp[:, x].T)).sum(axis=1)
        return -float(np.sum(np.log(np.maximum(like, 1e-300))))

    fit = optimize.minimize(
        negll,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000},
    )
    return -float(fit.fun), fit.x
