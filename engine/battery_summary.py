"""Summary of battery simulations: which skills can be reported, and what borrowing did.

Per skill: items, bias, RMSE and correlation against the truth (or a reference such as
the full-data EAP in a replay), reliability and Haberman's PRMSE. With EAP estimates
(posterior means) the error ``theta - theta_hat`` is uncorrelated with every function of
the data, so both PRMSEs can be estimated without the truth:

    PRMSE_sub   = var(theta_hat_s) / (var(theta_hat_s) + mean(se_s**2))
    PRMSE_total = cov(total, theta_hat_s)**2 / (var(total) (var(theta_hat_s) + mean(se_s**2)))

with ``total`` the mean of the learner's skill estimates. The covariance of ``total`` with
the true skill needs the latent correlations when estimates use only their own skill's
data: ``cov(theta_hat_j, theta_s) = R_js var(theta_hat_j)``, so
``cov(total, theta_s) = mean_j R_js var(theta_hat_j)`` (without a correlation matrix,
``cov(total, theta_hat_s)``, which misses what other skills' data say about ``s``). A
skill's own score has added value when ``PRMSE_sub > PRMSE_total`` (Haberman, 2008); with
the truth (or a reference) known the same quantities are squared correlations with it,
reported beside them, and they decide ``added_value``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.battery import BatteryPlan
from engine.battery_sim import BatterySimulation

REPORT_FORMAT = "zapcat-battery-report/1"


def _corr2(x: NDArray, y: NDArray) -> float | None:
    if x.size < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def prmse(
    theta: NDArray, se: NDArray, corr: NDArray | None = None
) -> tuple[NDArray, NDArray]:
    """Model-based ``(PRMSE_sub, PRMSE_total)`` per skill from EAP estimates, shape (K,).

    Parameters
    ----------
    theta, se : ndarray, shape (N, K)
    corr : ndarray, shape (K, K), optional
        Latent correlations (see the module docstring).
    """
    total = theta.mean(axis=1)
    var_hat = theta.var(axis=0)
    var_true = var_hat + np.mean(np.square(se), axis=0)
    sub = var_hat / var_true
    if corr is not None:
        cov = (corr * var_hat[:, None]).mean(axis=0)
    else:
        cov = np.array([np.cov(total, theta[:, k], bias=True)[0, 1]
                        for k in range(theta.shape[1])])  # fmt: skip
    tot = cov**2 / (total.var() * var_true)
    return sub, tot


def _skill_rows(plan: BatteryPlan, sim: BatterySimulation, truth: NDArray | None) -> list:
    sub, tot = prmse(sim.theta, sim.se, plan.battery.correlations)
    total = sim.theta.mean(axis=1)
    rows = []
    for k, skill in enumerate(plan.skill_ids):
        est, n = sim.theta[:, k], sim.n_items[:, k]
        row: dict[str, Any] = {
            "skill_id": skill,
            "mean_items": float(n.mean()),
            "mean_se": float(sim.se[:, k].mean()),
            "prmse_subscore": float(sub[k]),
            "prmse_total": float(tot[k]),
            "added_value": bool(sub[k] > tot[k]),
            "borrowed": float(np.mean(~np.isnan(sim.prior_mean[:, k]))),
            "share_strength": float(np.mean(sim.labels[:, k] > 0)),
            "share_area": float(np.mean(sim.labels[:, k] < 0)),
        }
        if truth is not None:
            err = est - truth[:, k]
            row.update(bias=float(err.mean()), rmse=float(np.sqrt(np.mean(err**2))),
                       correlation=float(np.corrcoef(est, truth[:, k])[0, 1]),
                       reliability=_corr2(est, truth[:, k]),
                       prmse_total_true=_corr2(total, truth[:, k]))  # fmt: skip
            row["added_value"] = bool((row["reliability"] or 0) > (row["prmse_total_true"] or 0))
        rows.append(row)
    return rows


def summarize_battery(
    plan: BatteryPlan,
    sim: BatterySimulation,
    *,
    reference: NDArray | None = None,
    without: BatterySimulation | None = None,
    flat: BatterySimulation | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """JSON-ready report of a battery simulation.

    Parameters
    ----------
    plan : BatteryPlan
    sim : BatterySimulation
    reference : ndarray, shape (N, K), optional
        What to compare estimates with when there is no truth (a replay): for example
        each learner's EAP from all its observed responses.
    without : BatterySimulation, optional
        The same learners without the collateral prior: its effect per skill.
    flat : BatterySimulation, optional
        A run on flat true profiles (all skills equal): its labels are all false.
    seed : int, optional

    Returns
    -------
    dict
        ``format`` ``"zapcat-battery-report/1"``, ``battery``, ``n``, ``replay``,
        ``seconds``, ``simulees_per_second``, ``items``, ``stop_reasons``, ``skills``,
        ``labels``, and ``collateral`` / ``false_labels`` when those runs are given.
    """
    truth = sim.true_theta if not np.isnan(sim.true_theta).any() else reference
    total_items = sim.n_administered.sum(axis=1)
    reasons, counts = np.unique(sim.stop_reason, return_counts=True)
    out: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "battery": {"name": plan.battery.name, "version": plan.battery.version,
                    "skills": list(plan.skill_ids), "budget": plan.budget,
                    "order": plan.battery.order, "z": plan.battery.z},
        "n": int(sim.theta.shape[0]),
        "seed": seed,
        "replay": bool(np.isnan(sim.true_theta).all()),
        "compared_with": "truth" if truth is sim.true_theta else
                         ("reference" if truth is not None else None),
        "seconds": sim.seconds,
        "simulees_per_second": float(sim.theta.shape[0] / max(sim.seconds, 1e-9)),
        "items": {"mean": float(total_items.mean()), "sd": float(total_items.std()),
                  "min": int(total_items.min()), "max": int(total_items.max())},
        "stop_reasons": {str(r): int(c) for r, c in zip(reasons, counts, strict=True)},
        "skills": _skill_rows(plan, sim, truth),
        "labels": {
            "share_with_label": float(np.mean((sim.labels != 0).any(axis=1))),
            "share_with_strength": float(np.mean((sim.labels > 0).any(axis=1))),
            "share_with_area": float(np.mean((sim.labels < 0).any(axis=1))),
            "share_even": float(np.mean((sim.labels == 0).all(axis=1))),
        },
    }
    if without is not None:
        rows = []
        for k, skill in enumerate(plan.skill_ids):
            row: dict[str, Any] = {
                "skill_id": skill,
                "mean_items_with": float(sim.n_items[:, k].mean()),
                "mean_items_without": float(without.n_items[:, k].mean()),
                "mean_se_with": float(sim.se[:, k].mean()),
                "mean_se_without": float(without.se[:, k].mean()),
            }
            if truth is not None:
                for label, run in (("with", sim), ("without", without)):
                    err = run.theta[:, k] - truth[:, k]
                    row[f"rmse_{label}"] = float(np.sqrt(np.mean(err**2)))
            rows.append(row)
        out["collateral"] = {"skills": rows,
                             "mean_items_with": float(sim.n_administered.sum(1).mean()),
                             "mean_items_without":
                                 float(without.n_administered.sum(1).mean())}  # fmt: skip
    if flat is not None:
        lab = flat.labels
        out["false_labels"] = {
            "n": int(lab.shape[0]),
            "per_skill": float(np.mean(lab != 0)),
            "per_skill_strength": float(np.mean(lab > 0)),
            "per_skill_area": float(np.mean(lab < 0)),
            "per_learner": float(np.mean((lab != 0).any(axis=1))),
        }
    return out


__all__ = ["REPORT_FORMAT", "prmse", "summarize_battery"]
