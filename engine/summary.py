"""Summary of a simulation: length, bias and RMSE by band, classification, exposure.

:func:`report` turns a :class:`~engine.simulation.SimulationResult` into a JSON-ready
report (``"format": "zapcat-simulation-report/1"``), read by :mod:`engine.simulation_report` (HTML)
and ``zapcat report``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from engine.config import CATConfig
from item_banks.bank import ItemBank

if TYPE_CHECKING:
    from engine.simulation import SimulationResult

REPORT_FORMAT = "zapcat-simulation-report/1"
"""Value of the ``format`` field of :func:`report` (read by ``zapcat report``)."""

DEFAULT_BANDS = (-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf)


def overlap_rate(items: NDArray[np.intp], n_items: int) -> float:
    """Mean number of items two tests share, divided by the mean test length.

    ``items`` is (N, L) with ``-1`` padding; computed from exposure counts as
    ``sum_i c_i (c_i - 1) / (N (N - 1)) / mean length`` (exact, no loop over pairs).
    """
    n_rows = items.shape[0]
    if n_rows < 2:
        return float("nan")
    counts = np.bincount(items[items >= 0], minlength=n_items).astype(float)
    mean_len = (items >= 0).sum(axis=1).mean()
    shared = (counts * (counts - 1)).sum() / (n_rows * (n_rows - 1))
    return float(shared / mean_len) if mean_len else float("nan")


def blueprint_compliance(
    result: SimulationResult, bank: ItemBank, config: CATConfig
) -> dict[str, float]:
    """Share of tests meeting the content counts and holding no two enemies.

    Returns
    -------
    dict
        ``content`` (share meeting every min/max count over scored items) and
        ``enemies`` (share with no enemy group used twice).
    """
    n_rows = result.items.shape[0]
    ok_content = np.ones(n_rows, dtype=bool)
    ok_enemy = np.ones(n_rows, dtype=bool)
    items = bank.items
    for r in range(n_rows):
        given = result.items[r][result.items[r] >= 0]
        scored = given[result.scored[r][: given.size]]
        for area, a_min, a_max in config.content:
            count = sum(area in items[i].content_areas for i in scored)
            if not a_min <= count <= a_max:
                ok_content[r] = False
        seen: set[str] = set()
        for i in given:
            for g in items[i].enemy_groups:
                if g in seen:
                    ok_enemy[r] = False
                seen.add(g)
    return {"content": float(ok_content.mean()), "enemies": float(ok_enemy.mean())}


def report(
    result: SimulationResult,
    bank: ItemBank,
    config: CATConfig,
    *,
    bands: Sequence[float] = DEFAULT_BANDS,
) -> dict[str, Any]:
    """Summary of a simulation, JSON-ready.

    Parameters
    ----------
    result : SimulationResult
    bank, config : the bank and configuration simulated
    bands : sequence of float
        Edges of the true-theta bands of the conditional statistics (``[lo, hi)``).

    Returns
    -------
    dict
        ``format`` (:data:`REPORT_FORMAT`); ``n_simulees``; ``test_length`` (mean, sd,
        min, max of scored items; ``mean_administered``; ``distribution``: simulees per
        scored length, keys are lengths as strings); ``bias``, ``rmse``, ``mean_se``,
        ``correlation``;
        ``conditional`` (per band: n, bias, rmse, mean_se, mean_length); ``stop_reasons``;
        ``exposure`` (max, mean, unused items, share of items over 0.2 ... and each
        item's rate); ``overlap``; ``blueprint`` (content / enemy compliance);
        ``classification`` (accuracy, confusion) when cut scores are set;
        ``simulees_per_second`` and ``seconds``; ``config``; ``bank``.
    """
    true, est = result.true_theta, result.theta
    n_rows = true.size
    length = result.n_scored
    err = est - true
    lengths, length_counts = np.unique(length, return_counts=True)
    out: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "n_simulees": int(n_rows),
        "bank": {"name": bank.name, "version": bank.version, "n_items": len(bank)},
        "test_length": {
            "mean": float(length.mean()),
            "sd": float(length.std()),
            "min": int(length.min()),
            "max": int(length.max()),
            "mean_administered": float(result.n_administered.mean()),
            "distribution": {str(k): int(c) for k, c in zip(lengths, length_counts, strict=True)},
        },
        "bias": float(err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mean_se": float(result.se.mean()),
        "correlation": float(np.corrcoef(true, est)[0, 1]) if n_rows > 2 else float("nan"),
    }
    conditional = []
    edges = list(bands)
    for lo, hi in itertools.pairwise(edges):
        mask = (true >= lo) & (true < hi)
        entry: dict[str, Any] = {
            "band": [None if not np.isfinite(lo) else float(lo),
                     None if not np.isfinite(hi) else float(hi)],
            "n": int(mask.sum()),
        }  # fmt: skip
        if mask.any():
            entry.update(
                bias=float(err[mask].mean()),
                rmse=float(np.sqrt(np.mean(err[mask] ** 2))),
                mean_se=float(result.se[mask].mean()),
                mean_length=float(length[mask].mean()),
            )
        conditional.append(entry)
    out["conditional"] = conditional
    reasons, counts = np.unique(np.asarray(result.stop_reason), return_counts=True)
    out["stop_reasons"] = {str(r): int(c) for r, c in zip(reasons, counts, strict=True)}
    exposure = result.exposure_counts(len(bank)) / n_rows
    out["exposure"] = {
        "max": float(exposure.max()),
        "mean": float(exposure.mean()),
        "n_unused": int((exposure == 0).sum()),
        "share_unused": float((exposure == 0).mean()),
        "share_first_item_max": float(
            np.bincount(result.items[:, 0][result.items[:, 0] >= 0]).max() / n_rows
        ),
        "n_over_0.2": int((exposure > 0.2).sum()),
        "rates": {bank.item_ids[i]: float(exposure[i]) for i in np.nonzero(exposure)[0]},
    }
    out["overlap"] = overlap_rate(result.items, len(bank))
    if config.content or bank_has_enemies(bank):
        out["blueprint"] = blueprint_compliance(result, bank, config)
    if config.cut_scores:
        cuts = np.asarray(config.cut_scores)
        true_cls = np.searchsorted(cuts, true, side="right")
        est_cls = np.searchsorted(cuts, est, side="right")
        k = cuts.size + 1
        confusion = np.zeros((k, k), dtype=int)
        np.add.at(confusion, (true_cls, est_cls), 1)
        out["classification"] = {
            "cut_scores": cuts.tolist(),
            "accuracy": float((true_cls == est_cls).mean()),
            "confusion": confusion.tolist(),
        }
    out["seconds"] = float(result.seconds)
    out["simulees_per_second"] = float(n_rows / result.seconds) if result.seconds > 0 else None
    out["ms_per_administered_item"] = (
        float(1e3 * result.seconds / result.n_administered.sum())
        if result.n_administered.sum() else None
    )  # fmt: skip
    out["config"] = config.to_flat()
    return out


def bank_has_enemies(bank: ItemBank) -> bool:
    """Whether any item of the bank belongs to an enemy group."""
    return any(item.enemy_groups for item in bank.items)


__all__ = ["DEFAULT_BANDS", "REPORT_FORMAT", "blueprint_compliance", "overlap_rate", "report"]
