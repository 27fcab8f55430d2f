"""Simulation of adaptive tests: many simulees through the engine's own code path.

:func:`simulate` runs simulees with known abilities either one by one through
:func:`engine.session.start` / :func:`~engine.session.respond` (exactly what the API
does) or, by default, in vectorised batches that run the same kernels on thousands of
simulees at once; both give the same tests (tested). :func:`report` summarises a run:
test length, bias and RMSE overall and by band of true theta, classification accuracy,
item exposure, test overlap and blueprint compliance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine._core import Rows, estimate, get_plan, pair_prob, record, select
from engine._random import RESPONSE, derive_seeds, draw_response, uniforms
from engine.config import CATConfig
from engine.session import respond, start
from engine.stopping import STOP_REASONS, stop_codes
from engine.summary import (  # noqa: F401  (the summary of a run, next to the run)
    DEFAULT_BANDS,
    REPORT_FORMAT,
    blueprint_compliance,
    overlap_rate,
    report,
)
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
    prior: tuple[ArrayLike, ArrayLike] | None = None,
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
    prior : (array_like, array_like), optional
        Each simulee's own normal prior ``(mean, sd)`` (scalars or arrays of shape
        ``(N,)``), as ``prior`` of :func:`engine.session.start`; by default the
        configuration's.

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
    priors = None
    if prior is not None:
        mean, sd = (np.broadcast_to(np.asarray(v, dtype=float), theta_true.shape) for v in prior)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sd)) and np.all(sd > 0)):
            raise InvalidConfigError(["prior needs finite means and sds > 0"])
        priors = (mean, sd)
    plan = get_plan(bank, config)
    began = time.perf_counter()
    if batch and config.max_exposure_rate is None:
        out = _run_batch(plan, theta_true, seeds, progress, priors)
    else:
        out = _run_sequential(plan, theta_true, seeds, progress, priors)
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


def run_rows(
    plan, rows: Rows, answer: Callable[[NDArray[np.intp], NDArray[np.intp]], NDArray]
) -> NDArray[np.intp]:
    """Take every row of one block through its test; the stop reason's code per row.

    The engine's batch loop, shared by :func:`simulate` and the battery simulation.

    Parameters
    ----------
    plan : the engine's plan of the test
    rows : Rows
        The block's test states, updated in place.
    answer : callable
        ``answer(active, chosen)``: the responses of the rows ``active`` to the items
        ``chosen`` (bank indices), called before they are recorded.

    Returns
    -------
    ndarray of int, (n_rows,)
        Index into :data:`engine.stopping.STOP_REASONS` of each row's stop reason.
    """
    codes = np.full(rows.n_rows, -1, dtype=np.intp)
    active = np.arange(rows.n_rows)
    chosen = select(plan, rows, active)
    while True:
        codes[active[chosen < 0]] = STOP_REASONS.index("bank_exhausted")
        keep = chosen >= 0
        active, chosen = active[keep], chosen[keep]
        if not active.size:
            break
        record(plan, rows, active, chosen, answer(active, chosen))
        estimate(plan, rows, active)
        code = stop_codes(plan, rows, active)
        codes[active[code >= 0]] = code[code >= 0]
        active = active[code < 0]
        if not active.size:
            break
        chosen = select(plan, rows, active)
    return codes


def drawn_answers(
    bank: ItemBank, rows: Rows, theta_true: NDArray[np.float64]
) -> Callable[[NDArray[np.intp], NDArray[np.intp]], NDArray[np.intp]]:
    """The ``answer`` of :func:`run_rows` that draws each response from the items' model.

    Row ``i`` answers at ``theta_true[i]``, with the engine's reproducible uniforms (the
    row's seed and its position in the test).
    """

    def answer(active: NDArray[np.intp], chosen: NDArray[np.intp]) -> NDArray[np.intp]:
        u = uniforms(rows.seed[active], rows.n_total[active], RESPONSE)
        return draw_response(pair_prob(bank, theta_true[active], chosen), u)

    return answer


def _run_batch(plan, theta_true, seeds, progress, priors=None) -> tuple:
    bank = plan.bank
    n_rows = theta_true.size
    theta, se, items, resp, scored, reasons = _empty(n_rows, plan)
    refusals = np.zeros(plan.n_items, dtype=np.intp)
    block = max(16, _BATCH_CELLS // (plan.n_items * bank.max_categories))
    for begin in range(0, n_rows, block):
        stop = min(n_rows, begin + block)
        own = None if priors is None else (priors[0][begin:stop], priors[1][begin:stop])
        rows = Rows(plan, seeds[begin:stop], prior=own)
        chunk_theta = theta_true[begin:stop]
        codes = run_rows(plan, rows, drawn_answers(bank, rows, chunk_theta))
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


def _run_sequential(plan, theta_true, seeds, progress, priors=None) -> tuple:
    bank, config = plan.bank, plan.config
    n_rows = theta_true.size
    theta, se, items, resp, scored, reasons = _empty(n_rows, plan)
    refusals = np.zeros(plan.n_items, dtype=np.intp)
    exposure: dict[str, int] = {"__tests__": 0}
    for j in range(n_rows):
        own = None if priors is None else (float(priors[0][j]), float(priors[1][j]))
        state = start(bank, config, seed=int(seeds[j]), exposure=exposure, prior=own)
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



__all__ = [
    "REPORT_FORMAT",
    "SimulationResult",
    "blueprint_compliance",
    "overlap_rate",
    "report",
    "simulate",
]
