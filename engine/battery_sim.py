"""Batch simulation and real-data replay of a battery: many learners at once.

:func:`simulate_battery` runs the battery's sections in rounds: in each round every
learner opens its next section (the order rule and the collateral prior computed exactly
as :mod:`engine.battery` does for one learner), and the learners taking the same section
under the same length bounds run together through the engine's vectorised CAT kernels
(:mod:`engine._core`, the code path of live tests). Answers are simulated from true
abilities drawn from ``MVN(0, R)`` (or given), or **replayed**: each learner answers with
its own observed responses, and an item it did not answer cannot be given to it.
Simulated and live sessions with the same seed give identical tests (tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine._core import Rows, get_plan, pair_prob
from engine._random import RESPONSE, derive_seeds, draw_response, uniforms
from engine.battery import BatteryPlan
from engine.battery_prior import conditional_prior, own_likelihood
from engine.battery_profile import labels
from engine.simulation import drawn_answers, run_rows
from engine.stopping import STOP_REASONS
from item_banks.errors import InvalidConfigError

_BATCH_CELLS = 4_000_000
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class BatterySimulation:
    """Outcome of a battery simulation (``N`` learners, ``K`` skills in file order).

    Attributes
    ----------
    true_theta : ndarray, shape (N, K)
        True abilities (NaN in a replay of real data).
    theta, se : ndarray, shape (N, K)
    n_items : ndarray of int, shape (N, K)
        Scored items per skill.
    n_administered : ndarray of int, shape (N, K)
    prior_mean, prior_sd : ndarray, shape (N, K)
        The collateral prior each section started from (NaN: the configuration's prior).
    position : ndarray of int, shape (N, K)
        When each section was opened (0 first).
    labels : ndarray of int8, shape (N, K)
        ``+1`` strength, ``-1`` area for improvement, ``0`` neither.
    stop_reason : ndarray of str, shape (N,)
        ``"completed"`` or ``"budget"``.
    items : list of ndarray, length K
        Bank positions given in each section, shape ``(N, L_k)``, ``-1`` after the end.
    seeds : ndarray of int, shape (N,)
        Each learner's battery seed (replay one with :func:`engine.battery.start`).
    seconds : float
    """

    true_theta: NDArray[np.float64]
    theta: NDArray[np.float64]
    se: NDArray[np.float64]
    n_items: NDArray[np.intp]
    n_administered: NDArray[np.intp]
    prior_mean: NDArray[np.float64]
    prior_sd: NDArray[np.float64]
    position: NDArray[np.intp]
    labels: NDArray[np.int8]
    stop_reason: NDArray[np.str_]
    items: list[NDArray[np.intp]]
    seeds: NDArray[np.int64]
    seconds: float


def simulate_battery(
    plan: BatteryPlan,
    *,
    n: int = 1000,
    true_theta: ArrayLike | None = None,
    replay: Sequence[ArrayLike] | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> BatterySimulation:
    """Run learners through the battery.

    Parameters
    ----------
    plan : BatteryPlan
    n : int, default 1000
        Learners (ignored when ``true_theta`` or ``replay`` is given).
    true_theta : array_like, shape (N, K), optional
        True abilities; by default ``MVN(0, R)`` draws (``R`` the battery's correlations,
        the identity without them) from ``seed``.
    replay : sequence of array_like, length K, optional
        Per section the observed responses, shape ``(N, len(bank_k))``, ``-1`` where a
        learner did not answer (that item is never given to it).
    seed : int, default 0
    progress : callable, optional
        ``progress(done, total)`` after each group of learners.

    Returns
    -------
    BatterySimulation
    """
    k_all = plan.k
    answers = None
    if replay is not None:
        answers = _check_replay(plan, replay)
        n_rows = answers[0].shape[0]
        truth = np.full((n_rows, k_all), np.nan)
    elif true_theta is not None:
        truth = np.asarray(true_theta, dtype=float)
        if truth.ndim != 2 or truth.shape[1] != k_all or not np.isfinite(truth).all():
            raise InvalidConfigError([f"true_theta must be finite, shape (N, {k_all}), "
                                      f"got shape {truth.shape}"])  # fmt: skip
        n_rows = truth.shape[0]
    else:
        if n < 1:
            raise InvalidConfigError([f"number of learners must be >= 1, got {n!r}"])
        corr = plan.battery.correlations if plan.battery.correlations is not None \
            else np.eye(k_all)  # fmt: skip
        truth = np.random.default_rng(seed).multivariate_normal(np.zeros(k_all), corr, n)
        n_rows = n
    began = time.perf_counter()
    seeds = derive_seeds(seed, n_rows)
    sec_seeds = uniforms(np.repeat(seeds, k_all), np.tile(np.arange(k_all), n_rows), 99)
    sec_seeds = (sec_seeds * 2.0**53).astype(np.int64).reshape(n_rows, k_all)
    shape = (n_rows, k_all)
    out = {name: np.full(shape, np.nan) for name in ("theta", "se", "pm", "ps", "m0", "s0")}
    n_sc = np.zeros(shape, dtype=np.intp)
    n_ad = np.zeros(shape, dtype=np.intp)
    position = np.full(shape, -1, dtype=np.intp)
    cut = np.zeros(n_rows, dtype=bool)
    items = [np.full((n_rows, plan.own_max[k]), -1, dtype=np.intp) for k in range(k_all)]
    done_rows = 0
    for rnd in range(k_all):
        nxt, prior = _next_sections(plan, out, n_sc, position)
        used = n_ad.sum(axis=1)
        opened_sets = position >= 0
        for k in range(k_all):
            who = np.nonzero(nxt == k)[0]
            if not who.size:
                continue
            has = ~np.isnan(prior[0][who])
            lo, hi = _bounds(plan, k, used[who], opened_sets[who], has)
            keys = np.stack([has, lo, hi], axis=1)
            for key in np.unique(keys, axis=0):
                g = who[(keys == key).all(axis=1)]
                own = (prior[0][g], prior[1][g]) if key[0] else None
                config = plan.config_for(k, int(key[1]), int(key[2]))
                res = _run(get_plan(plan.banks[k], config), sec_seeds[g, k], own,
                           truth[g, k], None if answers is None else answers[k][g])  # fmt: skip
                theta, se, nt, ns, hist, codes = res
                out["theta"][g, k], out["se"][g, k] = theta, se
                n_ad[g, k], n_sc[g, k] = nt, ns
                items[k][g, : hist.shape[1]] = hist
                position[g, k] = rnd
                if own is not None:
                    out["pm"][g, k], out["ps"][g, k] = own
                    out["m0"][g, k], out["s0"][g, k] = own
                else:
                    out["m0"][g, k] = config.ability.prior_mean
                    out["s0"][g, k] = config.ability.prior_sd
                if int(key[2]) < plan.configs[k].max_items:
                    cut[g] |= codes == STOP_REASONS.index("max_items")
                done_rows += g.size
                if progress is not None:
                    progress(done_rows, n_rows * k_all)
    theta, se = out["theta"], out["se"]
    return BatterySimulation(
        true_theta=truth, theta=theta, se=se, n_items=n_sc, n_administered=n_ad,
        prior_mean=out["pm"], prior_sd=out["ps"], position=position,
        labels=labels(theta, se, plan.battery.z),
        stop_reason=np.where(cut, "budget", "completed"), items=items, seeds=seeds,
        seconds=time.perf_counter() - began,
    )  # fmt: skip


def _check_replay(plan: BatteryPlan, replay: Sequence[ArrayLike]) -> list[NDArray[np.intp]]:
    if len(replay) != plan.k:
        raise InvalidConfigError([f"replay needs one response matrix per section "
                                  f"({plan.k}), got {len(replay)}"])  # fmt: skip
    mats, problems = [], []
    for k, r in enumerate(replay):
        m = np.asarray(r)
        bank = plan.banks[k]
        if m.ndim != 2 or m.shape[1] != len(bank):
            problems.append(f"replay[{k}] ({plan.skill_ids[k]}): shape must be (N, "
                            f"{len(bank)}), got {m.shape}")  # fmt: skip
            continue
        bad = (m < -1) | (m >= bank.n_categories[None, :])
        if bad.any():
            r0, c0 = map(int, np.argwhere(bad)[0])
            problems.append(f"replay[{k}] ({plan.skill_ids[k]}): response {int(m[r0, c0])} "
                            f"of row {r0} to item {bank.item_ids[c0]!r} is not a category")
        mats.append(m.astype(np.intp))
    if not problems and len({m.shape[0] for m in mats}) != 1:
        problems.append("replay: every section's matrix needs the same learners (rows)")
    if problems:
        raise InvalidConfigError(problems)
    return mats


def _next_sections(plan: BatteryPlan, out: dict, n_sc: NDArray, position: NDArray) -> tuple:
    """Each learner's next section and collateral prior (NaN: none), as the live rule."""
    n_rows, k_all = position.shape
    nxt = np.full(n_rows, -1, dtype=np.intp)
    pm = np.full(n_rows, np.nan)
    ps = np.full(n_rows, np.nan)
    done = (position >= 0) & (n_sc > 0)
    opened = position >= 0
    patterns, inverse = np.unique(np.concatenate([opened, done], axis=1), axis=0,
                                  return_inverse=True)  # fmt: skip
    for p, pattern in enumerate(patterns):
        rows = np.nonzero(inverse.reshape(-1) == p)[0]
        op, dn = pattern[:k_all], np.nonzero(pattern[k_all:])[0]
        left = [k for k in range(k_all) if not op[k]]
        if not left:
            continue
        priors = {}
        if dn.size:
            y, lam = own_likelihood(out["theta"][np.ix_(rows, dn)], out["se"][np.ix_(rows, dn)],
                                    out["m0"][np.ix_(rows, dn)], out["s0"][np.ix_(rows, dn)])
            for k in left:
                if plan.borrows[k]:
                    priors[k] = conditional_prior(plan.corr, k, dn.tolist(), y, lam)
        if plan.battery.order == "fixed":
            choice = np.full(rows.size, left[0])
        else:
            gaps = np.stack([(priors[k][1] if k in priors else np.full(rows.size,
                              plan.prior_sd(k))) - plan.targets[k] for k in left], axis=1)
            choice = np.asarray(left)[np.argmax(gaps, axis=1)]
        nxt[rows] = choice
        for k, (m, s) in priors.items():
            sel = choice == k
            pm[rows[sel]], ps[rows[sel]] = m[sel], s[sel]
    return nxt, (pm, ps)


def _bounds(plan: BatteryPlan, k: int, used: NDArray, opened: NDArray, borrowed: NDArray):
    pre = np.array([c.constraints.pretest_count for c in plan.configs])
    need = np.asarray(plan.min_items) + pre
    mask = ~opened
    mask[:, k] = False
    reserve = (mask * need[None, :]).sum(axis=1)
    config = plan.configs[k]
    room = plan.budget - used - reserve - pre[k]
    hi = np.maximum(1, np.minimum(config.max_items, room))
    lo = np.where(borrowed, plan.min_items[k], config.min_items)
    return np.minimum(lo, hi), hi


def _run(cat_plan, seeds, prior, truth, observed) -> tuple:
    """One section for a group of learners, in blocks; the engine's batch loop."""
    bank = cat_plan.bank
    n_rows = seeds.size
    theta, se = np.zeros(n_rows), np.zeros(n_rows)
    nt, ns = np.zeros(n_rows, dtype=np.intp), np.zeros(n_rows, dtype=np.intp)
    hist = np.full((n_rows, cat_plan.max_len), -1, dtype=np.intp)
    codes_all = np.full(n_rows, -1, dtype=np.intp)
    block = max(16, _BATCH_CELLS // (cat_plan.n_items * bank.max_categories))
    for b0 in range(0, n_rows, block):
        sl = slice(b0, min(n_rows, b0 + block))
        own = None if prior is None else (prior[0][sl], prior[1][sl])
        rows = Rows(cat_plan, seeds[sl], prior=own)
        obs = None if observed is None else observed[sl]
        if obs is not None:
            rows.blocked[:] = obs < 0
            rows.any_blocked = True
        if obs is None:
            answer = drawn_answers(bank, rows, truth[sl])
        else:
            answer = partial(_observed, obs)
        codes = run_rows(cat_plan, rows, answer)
        theta[sl], se[sl], nt[sl], ns[sl] = rows.theta, rows.se, rows.n_total, rows.n_scored
        hist[sl] = rows.hist_items
        codes_all[sl] = codes
    return theta, se, nt, ns, hist, codes_all


def _observed(obs: NDArray[np.intp], active: NDArray[np.intp], chosen: NDArray[np.intp]):
    """The replayed answers of the rows ``active`` to the items ``chosen``."""
    return obs[active, chosen]


def simulated_answer(bank, theta: float, item_id: str, section_seed: int, step: int) -> int:
    """The answer :func:`simulate_battery` draws for one item (to drive a live session)."""
    u = uniforms(np.array([section_seed]), np.array([step]), RESPONSE)
    prob = pair_prob(bank, np.array([float(theta)]), np.array([bank.index_of(item_id)]))
    return int(draw_response(prob, u)[0])


__all__ = ["BatterySimulation", "simulate_battery", "simulated_answer"]
