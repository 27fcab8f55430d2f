"""Simulation of adaptive tests: many simulees through the engine's own code path.

:func:`simulate` runs simulees with known abilities either one by one through
:func:`engine.session.start` / :func:`~engine.session.respond` (exactly what the API
does) or, by default, in vectorised batches that run the same kernels on thousands of
simulees at once; both give the same tests (tested). :func:`report` summarises a run:
test length, bias and RMSE overall and by band of true theta, classification accuracy,
item exposure, test overlap and blueprint compliance.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine._core import (
    RESPONSE,
    STOP_REASONS,
    Rows,
    derive_seeds,
    draw_response,
    estimate,
    get_plan,
    pair_prob,
    record,
    select,
    stop_codes,
    uniforms,
)
from engine.config import CATConfig
from engine.session import respond, start
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a simulation runs."""

_BATCH_CELLS = 4_000_000  # simulees x items per vectorised block


@dataclass(frozen=True)
class SimulationResult:
    """Outcome of a simulation.

    Attributes
    ----------
    true_theta, theta, se : ndarray, shape (N,)
    items : ndarray of int, shape (N, L)
        Bank positions of the administered items in order, ``-1`` after the end.
    responses : ndarray of int, shape (N, L)
    scored : ndarray of bool, shape (N, L)
    stop_reason : tuple of str, length N
    seeds : ndarray of int, shape (N,)
        Seed of each simulee's test (replay one with :func:`engine.session.start`).
    refusals : ndarray of int, shape (n_items,)
        Times each item was selected but refused by Sympson-Hetter.
    seconds : float
        Wall time of the run.
    """

    true_theta: NDArray[np.float64]
    theta: NDArray[np.float64]
    se: NDArray[np.float64]
    items: NDArray[np.intp]
    responses: NDArray[np.intp]
    scored: NDArray[np.bool_]
    stop_reason: tuple[str, ...]
    seeds: NDArray[np.int64]
    refusals: NDArray[np.intp]
    seconds: float

    @property
    def n_scored(self) -> NDArray[np.intp]:
        """Scored test length of each simulee, shape ``(N,)``."""
        return self.scored.sum(axis=1)

    @property
    def n_administered(self) -> NDArray[np.intp]:
        """Administered items (scored and pretest) of each simulee, shape ``(N,)``."""
        return (self.items >= 0).sum(axis=1)

    def exposure_counts(self, n_items: int) -> NDArray[np.intp]:
        """Number of simulees given each item, shape ``(n_items,)``."""
        given = self.items[self.items >= 0]
        return np.bincount(given, minlength=n_items)


def simulate(
    bank: ItemBank,
    config: CATConfig,
    *,
    n: int = 1000,
    true_theta: ArrayLike | None = None,
    seed: int = 0,
    batch: bool = True,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Run simulees with known abilities through adaptive tests.

    Parameters
    ----------
    bank : ItemBank
    config : CATConfig
    n : int, default 1000
        Number of simulees (ignored when ``true_theta`` is given).
    true_theta : array_like, shape (N,), optional
        True abilities; by default ``N(0, 1)`` draws from ``seed``.
    seed : int, default 0
        Seeds the abilities, each simulee's test seed and its simulated responses.
    batch : bool, default True
        Vectorised batches (same kernels as the live session); ``False`` runs each
        simulee through :func:`engine.session.respond`. A config with
        ``max_exposure_rate`` (which reacts to earlier tests) always runs one by one.
    progress : callable, optional
        ``progress(done, total)`` after each simulee (one by one) or block (batch).

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> res = simulate(read_bank(DEMO_BANK_PATH), CATConfig(max_items=10), n=50, seed=1)
    >>> int(res.n_scored.max()) <= 10
    True
    """
    import time

    if true_theta is None:
        if n < 1:
            raise InvalidConfigError([f"number of simulees must be >= 1, got {n!r}"])
        true_theta = np.random.default_rng(seed).normal(size=n)
    theta_true = np.asarray(true_theta, dtype=float).reshape(-1)
    if theta_true.size == 0 or not np.all(np.isfinite(theta_true)):
        raise InvalidConfigError(["true_theta must be a non-empty array of finite numbers"])
    seeds = derive_seeds(seed, theta_true.size)
    plan = get_plan(bank, config)
    began = time.perf_counter()
    if batch and config.max_exposure_rate is None:
        out = _run_batch(plan, theta_true, seeds, progress)
    else:
        out = _run_sequential(plan, theta_true, seeds, progress)
    return SimulationResult(theta_true, *out, seconds=time.perf_counter() - began)


def _empty(n_rows: int, plan) -> tuple:
    return (
        np.zeros(n_rows),
        np.zeros(n_rows),
        np.full((n_rows, plan.max_len), -1, dtype=np.intp),
        np.full((n_rows, plan.max_len), -1, dtype=np.intp),
        np.zeros((n_rows, plan.max_len), dtype=bool),
        ["" for _ in range(n_rows)],
    )


def _run_batch(plan, theta_true, seeds, progress) -> tuple:
    bank = plan.bank
    n_rows = theta_true.size
    theta, se, items, resp, scored, reasons = _empty(n_rows, plan)
    refusals = np.zeros(plan.n_items, dtype=np.intp)
    block = max(16, _BATCH_CELLS // (plan.n_items * bank.max_categories))
    for begin in range(0, n_rows, block):
        stop = min(n_rows, begin + block)
        rows = Rows(plan, seeds[begin:stop])
        chunk_theta = theta_true[begin:stop]
        codes = np.full(stop - begin, -1, dtype=np.intp)
        active = np.arange(stop - begin)
        chosen = select(plan, rows, active)
        codes[chosen < 0] = STOP_REASONS.index("bank_exhausted")
        active = active[chosen >= 0]
        chosen = chosen[chosen >= 0]
        while active.size:
            u = uniforms(rows.seed[active], rows.n_total[active], RESPONSE)
            answer = draw_response(pair_prob(bank, chunk_theta[active], chosen), u)
            record(plan, rows, active, chosen, answer)
            estimate(plan, rows, active)
            code = stop_codes(plan, rows, active)
            codes[active[code >= 0]] = code[code >= 0]
            active = active[code < 0]
            if not active.size:
                break
            chosen = select(plan, rows, active)
            codes[active[chosen < 0]] = STOP_REASONS.index("bank_exhausted")
            keep = chosen >= 0
            active, chosen = active[keep], chosen[keep]
        sl = slice(begin, stop)
        theta[sl], se[sl] = rows.theta, rows.se
        items[sl], resp[sl], scored[sl] = rows.hist_items, rows.hist_resp, rows.hist_scored
        for j, c in enumerate(codes):
            reasons[begin + j] = STOP_REASONS[c]
        for rej in rows.rejected:
            if rej:
                np.add.at(refusals, rej, 1)
        if progress is not None:
            progress(stop, n_rows)
    return theta, se, items, resp, scored, tuple(reasons), seeds, refusals


def _run_sequential(plan, theta_true, seeds, progress) -> tuple:
    bank, config = plan.bank, plan.config
    n_rows = theta_true.size
    theta, se, items, resp, scored, reasons = _empty(n_rows, plan)
    refusals = np.zeros(plan.n_items, dtype=np.intp)
    exposure: dict[str, int] = {"__tests__": 0}
    for j in range(n_rows):
        state = start(bank, config, seed=int(seeds[j]), exposure=exposure)
        exposure["__tests__"] += 1
        while not state.finished:
            item = bank.index_of(state.pending_item)
            if state.pending_item is not None:
                exposure[state.pending_item] = exposure.get(state.pending_item, 0) + 1
            u = uniforms(np.array([seeds[j]]), np.array([state.n_items]), RESPONSE)
            prob = pair_prob(bank, theta_true[j : j + 1], np.array([item]))
            answer = int(draw_response(prob, u)[0])
            state = respond(bank, config, state, state.pending_item, answer, exposure=exposure)
        m = state.n_items
        theta[j], se[j] = state.theta, state.se
        items[j, :m] = bank.indices_of(state.administered)
        resp[j, :m] = state.responses
        scored[j, :m] = state.scored
        reasons[j] = state.stop_reason or ""
        if state.rejected:
            np.add.at(refusals, bank.indices_of(state.rejected), 1)
        if progress is not None:
            progress(j + 1, n_rows)
    return theta, se, items, resp, scored, tuple(reasons), seeds, refusals


# ------------------------------------------------------------------------------ report
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
    out["config"] = config.to_dict()
    return out


def bank_has_enemies(bank: ItemBank) -> bool:
    """Whether any item of the bank belongs to an enemy group."""
    return any(item.enemy_groups for item in bank.items)


__all__ = [
    "REPORT_FORMAT",
    "SimulationResult",
    "blueprint_compliance",
    "overlap_rate",
    "report",
    "simulate",
]
