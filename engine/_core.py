"""The CAT step, vectorised over rows (examinees): the one code path of the engine.

A live session (:mod:`engine.session`) runs these kernels on one row rebuilt from its
:class:`~engine.state.CATState`; batch simulation runs them on thousands of rows at once.
There is no other implementation of any rule, so both give the same tests.

Randomness is counter-based: every draw is ``uniforms(seed, step, purpose, attempt)``
(SplitMix64 mixing), so a row needs no generator object and a test replays exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse
from scipy.stats import norm

from engine._tables import bank_tables, pair_eval
from engine.ability import eap_from_loglik, get_estimator, normal_log_weight
from engine.config import CATConfig
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# purposes of random draws
START, PRETEST_POSITIONS, PRETEST_ITEM, RANDOMESQUE, SYMPSON_HETTER, RESPONSE = range(1, 7)

STOP_REASONS = ("se", "classified", "all_rules", "max_items", "bank_exhausted")
_NO_STOP = -1


def uniforms(seed: NDArray, step: NDArray, purpose: int, attempt: NDArray | int = 0) -> FloatArray:
    """Counter-based uniform draws in ``[0, 1)``, one per row.

    Parameters
    ----------
    seed, step : array_like of int, shape (N,)
    purpose : int
    attempt : int or array_like of int, shape (N,)

    Returns
    -------
    ndarray, shape (N,)
    """
    with np.errstate(over="ignore"):
        z = np.asarray(seed, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= np.asarray(step, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
        z ^= np.uint64(purpose) * np.uint64(0x94D049BB133111EB)
        z ^= np.asarray(attempt, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        for _ in range(2):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def derive_seeds(seed: int, n: int) -> NDArray[np.int64]:
    """``n`` test seeds (``0 <= s < 2**53``) derived from one simulation seed."""
    u = uniforms(np.full(n, seed), np.arange(n), 99)
    return (u * 2.0**53).astype(np.int64)


def draw_response(prob: FloatArray, u: FloatArray) -> IntArray:
    """Category drawn by inverse CDF: ``prob`` (N, K) zero-padded, ``u`` (N,)."""
    k = (np.cumsum(prob, axis=1) < u[:, None]).sum(axis=1)
    n_cat = (prob > 0).sum(axis=1)
    return np.minimum(k, np.maximum(n_cat - 1, 0)).astype(np.intp)


def pair_prob(bank: ItemBank, theta: FloatArray, items: IntArray) -> FloatArray:
    """``P(X = k | theta_r)`` of item ``items[r]`` for each row r, shape ``(R, K_max)``."""
    return np.exp(pair_eval(bank, theta, items, "log_prob"))


# ------------------------------------------------------------------------------- plans
class Plan:
    """Everything derived from (bank, config) once: arrays aligned with the bank."""

    def __init__(self, bank: ItemBank, config: CATConfig) -> None:
        problems = config.problems(bank)
        if problems:
            raise InvalidConfigError(problems)
        self.bank = bank
        self.config = config
        tables = bank_tables(bank)
        self.tables = tables
        lo, hi = config.theta_range
        self.lo, self.hi = lo, hi
        self.grid = tables.grid(lo, hi, config.n_points)
        self.points = self.grid.points
        self.log_weight = normal_log_weight(self.points, config.prior_mean, config.prior_sd)
        self.log_prob = self.grid.log_prob0  # (n, K, Q)
        kwargs: dict[str, object] = {"theta_range": config.theta_range}
        if config.estimator in ("eap", "map"):
            kwargs.update(prior_mean=config.prior_mean, prior_sd=config.prior_sd)
        if config.estimator == "eap":
            kwargs["n_points"] = config.n_points
        self.estimator = get_estimator(config.estimator, **kwargs)
        self.is_eap = config.estimator == "eap"
        n = len(bank)
        self.n_items = n
        self.operational = tables.meta("operational")
        self.pretest = tables.meta("pretest")
        self.all_operational = bool(self.operational.all())
        # items blocked during a test: enemies and Sympson-Hetter refusals
        self.may_block = bool(tables.meta("has_enemies") or config.exposure != "none")
        self.item_ids = bank.item_ids  # tuple, built once
        self.index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        # exposure
        self.sh_k: FloatArray | None = None
        if config.exposure == "sympson_hetter":
            k = np.ones(n)
            for item_id, value in config.exposure_params:
                k[bank.index_of(item_id)] = value
            self.sh_k = k
        # content
        areas = list(tables.meta("areas"))
        membership = tables.meta("membership")
        self.c_names = [a for a, _, _ in config.content]
        cols = [areas.index(a) for a in self.c_names]
        self.c_member = membership[:, cols].astype(float)  # (n, C)
        self.c_min = np.array([m for _, m, _ in config.content], dtype=float)
        self.c_max = np.array([m for _, _, m in config.content], dtype=float)
        self.p_names = [a for a, _ in config.content_proportions]
        cols = [areas.index(a) for a in self.p_names]
        self.p_member = membership[:, cols].astype(float)
        self.p_target = np.array([p for _, p in config.content_proportions])
        # enemies
        self.has_enemies = bool(config.enemies and tables.meta("has_enemies"))
        self.enemy_indptr = tables.meta("enemy_indptr")
        self.enemy_indices = tables.meta("enemy_indices")
        # classification
        self.cuts = np.asarray(config.cut_scores)
        self.cut_log_prob: FloatArray | None = None
        if config.classification == "sprt":
            d = config.sprt_delta
            pts = tuple(float(v) for c in self.cuts for v in (c - d, c + d))
            self.cut_log_prob = tables.points(pts).log_prob0  # (n, K, 2C)
            self.sprt_upper = np.log((1 - config.sprt_beta) / config.sprt_alpha)
            self.sprt_lower = np.log(config.sprt_beta / (1 - config.sprt_alpha))
        self.ci_z = float(norm.ppf(0.5 + config.ci_level / 2))
        # a-stratified
        self.location = tables.meta("location")
        slope = tables.meta("slope")
        stratum = np.full(n, config.n_strata, dtype=float)
        oper = np.nonzero(self.operational)[0]
        order = oper[np.argsort(slope[oper], kind="stable")]
        stratum[order] = np.floor(np.arange(order.size) * config.n_strata / max(order.size, 1))
        self.stratum = stratum
        self.max_len = config.max_items + config.pretest_count
        # empty-pattern estimate
        zero = np.zeros((1, 0), dtype=np.intp)
        t0, s0 = self.estimator._estimate_rows(bank, np.zeros(0, dtype=np.intp), zero)
        self.theta0, self.se0 = float(t0[0]), float(s0[0])
        self._shadow_static: tuple | None = None


def get_plan(bank: ItemBank, config: CATConfig) -> Plan:
    """The cached :class:`Plan` of (bank, config) (validated against the bank once)."""
    plans = bank_tables(bank).plans
    plan = plans.get(config)
    if plan is None:
        plan = Plan(bank, config)
        if len(plans) > 32:
            plans.pop(next(iter(plans)))
        plans[config] = plan
    return plan


# -------------------------------------------------------------------------------- rows
class Rows:
    """Per-examinee arrays of ``N`` tests in progress."""

    def __init__(self, plan: Plan, seeds: NDArray, *, draw: bool = True) -> None:
        cfg = plan.config
        n_rows = len(seeds)
        n = plan.n_items
        self.n_rows = n_rows
        self.seed = np.asarray(seeds, dtype=np.int64)
        self.given = np.zeros((n_rows, n), dtype=bool)
        self.blocked = np.zeros((n_rows, n), dtype=bool)
        self.n_total = np.zeros(n_rows, dtype=np.intp)
        self.n_scored = np.zeros(n_rows, dtype=np.intp)
        self.c_counts = np.zeros((n_rows, plan.c_member.shape[1]))
        self.p_counts = np.zeros((n_rows, plan.p_member.shape[1]))
        self.loglik = np.zeros((n_rows, plan.points.size))
        self.cut_loglik = None
        if plan.cut_log_prob is not None:
            self.cut_loglik = np.zeros((n_rows, plan.cut_log_prob.shape[2]))
        self.hist_items = np.full((n_rows, plan.max_len), -1, dtype=np.intp)
        self.hist_resp = np.full((n_rows, plan.max_len), -1, dtype=np.intp)
        self.hist_scored = np.zeros((n_rows, plan.max_len), dtype=bool)
        self.hist_theta = np.zeros((n_rows, plan.max_len))
        self.hist_se = np.zeros((n_rows, plan.max_len))
        self.theta = np.full(n_rows, plan.theta0)
        self.se = np.full(n_rows, plan.se0)
        self.start_theta = np.full(n_rows, cfg.start_theta)
        self.pretest_pos = np.zeros((n_rows, cfg.pretest_count), dtype=np.intp)
        if draw:
            self._draw_start(plan)
        self.rejected: list[list[int]] = [[] for _ in range(n_rows)]

    def _draw_start(self, plan: Plan) -> None:
        """Draw the start ability and the pretest positions from each row's seed."""
        cfg = plan.config
        zeros = np.zeros(self.n_rows, dtype=np.intp)
        u = uniforms(self.seed, zeros, START)
        self.start_theta = np.clip(
            cfg.start_theta + cfg.start_spread * (2.0 * u - 1.0), plan.lo, plan.hi
        )
        # pretest positions: the first pretest_count of a random order of the window
        if cfg.pretest_count:
            last = cfg.pretest_last or cfg.max_items
            window = np.arange(cfg.pretest_first, last + 1)
            keys = np.stack(
                [uniforms(self.seed, zeros, PRETEST_POSITIONS, j) for j in range(window.size)],
                axis=1,
            )
            order = np.argsort(keys, axis=1, kind="stable")[:, : cfg.pretest_count]
            self.pretest_pos = np.sort(window[order], axis=1)


def record(plan: Plan, rows: Rows, idx: IntArray, items: IntArray, resp: IntArray) -> None:
    """Add one administered item and its response to each row of ``idx``."""
    slot = rows.n_total[idx]
    scored = plan.operational[items]
    rows.given[idx, items] = True
    rows.hist_items[idx, slot] = items
    rows.hist_resp[idx, slot] = resp
    rows.hist_scored[idx, slot] = scored
    rows.n_total[idx] += 1
    rows.n_scored[idx] += scored
    s_idx, s_items, s_resp = idx[scored], items[scored], resp[scored]
    rows.loglik[s_idx] += plan.log_prob[s_items, s_resp]
    if rows.cut_loglik is not None:
        rows.cut_loglik[s_idx] += plan.cut_log_prob[s_items, s_resp]
    if plan.c_member.shape[1]:
        rows.c_counts[s_idx] += plan.c_member[s_items]
    if plan.p_member.shape[1]:
        rows.p_counts[s_idx] += plan.p_member[s_items]
    if plan.has_enemies:
        _block_enemies(plan, rows, idx, items)


def _block_enemies(plan: Plan, rows: Rows, idx: IntArray, items: IntArray) -> None:
    start = plan.enemy_indptr[items]
    count = plan.enemy_indptr[items + 1] - start
    if count.sum() == 0:
        return
    row_rep = np.repeat(idx, count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    rows.blocked[row_rep, plan.enemy_indices[np.repeat(start, count) + offsets]] = True


def rows_from_history(
    plan: Plan,
    seed: int,
    items: IntArray,
    resp: IntArray,
    rejected: IntArray,
    pretest_positions: tuple[int, ...] = (),
    start_theta: float | None = None,
) -> Rows:
    """One row rebuilt from a test's history (the session path).

    Sums over the history run in administration order, exactly as the incremental
    updates of :func:`record` do, so a rebuilt row equals the row of a batch run. The
    start ability and pretest positions come from the state when ``start_theta`` is given,
    otherwise they are drawn from the seed.
    """
    rows = Rows(plan, np.array([seed]), draw=start_theta is None)
    if start_theta is not None:
        rows.start_theta[0] = start_theta
        rows.pretest_pos = np.asarray(pretest_positions, dtype=np.intp).reshape(1, -1)
    m = items.size
    if rejected.size:
        rows.blocked[0, rejected] = True
        rows.rejected[0] = rejected.tolist()
    if m == 0:
        return rows
    scored = plan.operational[items]
    rows.given[0, items] = True
    rows.hist_items[0, :m] = items
    rows.hist_resp[0, :m] = resp
    rows.hist_scored[0, :m] = scored
    rows.n_total[0] = m
    rows.n_scored[0] = int(scored.sum())
    s_items, s_resp = items[scored], resp[scored]
    if s_items.size:
        # a reduction over axis 0 adds the rows one after another, in administration
        # order, exactly as the incremental updates of record() (tested bit for bit)
        rows.loglik[0] = plan.log_prob[s_items, s_resp].sum(axis=0)
        if rows.cut_loglik is not None:
            rows.cut_loglik[0] = plan.cut_log_prob[s_items, s_resp].sum(axis=0)
        if plan.c_member.shape[1]:
            rows.c_counts[0] = plan.c_member[s_items].sum(axis=0)
        if plan.p_member.shape[1]:
            rows.p_counts[0] = plan.p_member[s_items].sum(axis=0)
    if plan.has_enemies:
        _block_enemies(plan, rows, np.zeros(m, dtype=np.intp), items)
    return rows


# -------------------------------------------------------------------------- estimation
def estimate(plan: Plan, rows: Rows, idx: IntArray) -> None:
    """Re-estimate theta and SE of the rows ``idx`` from their scored responses."""
    if plan.is_eap:
        theta, se = eap_from_loglik(rows.loglik[idx], plan.points, plan.log_weight)
    else:
        items = rows.hist_items[idx]
        keep = rows.hist_scored[idx]
        cols = np.unique(items[keep])
        resp = np.full((idx.size, cols.size), -1, dtype=np.intp)
        r, j = np.nonzero(keep)
        resp[r, np.searchsorted(cols, items[r, j])] = rows.hist_resp[idx][r, j]
        if idx.size == 1:
            resp = np.vstack([resp, resp])
            theta, se = plan.estimator._estimate_rows(plan.bank, cols, resp)
            theta, se = theta[:1], se[:1]
        else:
            theta, se = plan.estimator._estimate_rows(plan.bank, cols, resp)
    rows.theta[idx] = theta
    rows.se[idx] = se
    slot = rows.n_total[idx] - 1
    rows.hist_theta[idx, slot] = theta
    rows.hist_se[idx, slot] = se


# ---------------------------------------------------------------------------- stopping
def content_deficit(plan: Plan, counts: FloatArray) -> FloatArray:
    """Items still needed to meet the content minimums, shape ``(N,)``."""
    if not plan.c_min.size:
        return np.zeros(counts.shape[0])
    return np.maximum(plan.c_min - counts, 0.0).sum(axis=1)


def stop_codes(plan: Plan, rows: Rows, idx: IntArray) -> IntArray:
    """Index into :data:`STOP_REASONS` for each row, ``-1`` to go on."""
    cfg = plan.config
    n_scored = rows.n_scored[idx]
    out = np.full(idx.size, _NO_STOP, dtype=np.intp)
    rules = []
    if cfg.stop_se is not None:
        rules.append(rows.se[idx] <= cfg.stop_se)
    if cfg.classification is not None:
        rules.append(classified(plan, rows, idx))
    if rules:
        stack = np.stack(rules)
        hit = stack.all(axis=0) if cfg.stop_combine == "all" else stack.any(axis=0)
        if cfg.stop_combine == "all" and len(rules) > 1:
            code = np.full(idx.size, STOP_REASONS.index("all_rules"))
        else:
            code = np.where(rules[0], 0, 1) if cfg.stop_se is not None else np.ones(idx.size)
        may_stop = (n_scored >= cfg.min_items) & (content_deficit(plan, rows.c_counts[idx]) == 0)
        out = np.where(hit & may_stop, code, out)
    out = np.where(n_scored >= cfg.max_items, STOP_REASONS.index("max_items"), out)
    return out.astype(np.intp)


def classified(plan: Plan, rows: Rows, idx: IntArray) -> NDArray[np.bool_]:
    """Whether every cut score is decided (SPRT or confidence interval), shape ``(N,)``."""
    if plan.config.classification == "sprt":
        ll = rows.cut_loglik[idx]
        ratio = ll[:, 1::2] - ll[:, 0::2]  # log L(c + delta) - log L(c - delta)
        decided = (ratio >= plan.sprt_upper) | (ratio <= plan.sprt_lower)
        return decided.all(axis=1) & (rows.n_scored[idx] > 0)
    half = plan.ci_z * rows.se[idx]
    gap = np.abs(rows.theta[idx][:, None] - plan.cuts[None, :])
    return (gap > half[:, None]).all(axis=1)


# ---------------------------------------------------------------------------- selection
def select(
    plan: Plan, rows: Rows, idx: IntArray, capped: NDArray[np.bool_] | None = None
) -> IntArray:
    """Next item of each row of ``idx`` (``-1`` when nothing admissible is left).

    Sympson-Hetter refusals are added to ``rows.blocked`` and ``rows.rejected``.
    """
    cfg = plan.config
    out = np.full(idx.size, -1, dtype=np.intp)
    unavailable = rows.given[idx]
    if plan.may_block:
        unavailable |= rows.blocked[idx]
    # pretest slots
    if cfg.pretest_count:
        slot = (rows.pretest_pos[idx] == (rows.n_total[idx] + 1)[:, None]).any(axis=1)
        if slot.any():
            pr = np.nonzero(slot)[0]
            cand = ~unavailable[pr] & plan.pretest
            count = cand.sum(axis=1)
            u = uniforms(rows.seed[idx[pr]], rows.n_total[idx[pr]], PRETEST_ITEM)
            k = np.floor(u * count).astype(np.intp)
            pick = np.argmax(np.cumsum(cand, axis=1) > k[:, None], axis=1)
            ok = count > 0
            out[pr[ok]] = pick[ok]
    todo = np.nonzero(out < 0)[0]
    if todo.size == 0:
        return out
    sub = idx[todo]
    theta = np.where(rows.n_scored[sub] == 0, rows.start_theta[sub], rows.theta[sub])
    masked = unavailable[todo] if todo.size < idx.size else unavailable
    if not plan.all_operational:
        masked |= ~plan.operational
    simple = capped is None and cfg.selector != "shadow"
    simple = simple and not plan.c_member.shape[1] and not plan.p_member.shape[1]
    if simple:  # fast path: one masking pass over the criterion
        crit = _criterion(plan, rows, sub, theta)
        np.copyto(crit, -np.inf, where=masked)
        out[todo] = _pick_with_exposure(plan, rows, sub, crit)
        return out
    elig = ~masked
    if capped is not None:
        trial = elig & ~capped
        elig = np.where(trial.any(axis=1, keepdims=True), trial, elig)
    if cfg.selector == "shadow":
        out[todo] = _shadow_select(plan, rows, sub, elig, theta)
        return out
    elig = _content_mask(plan, rows, sub, elig)
    crit = _criterion(plan, rows, sub, theta)
    crit = np.where(elig, crit, -np.inf)
    out[todo] = _pick_with_exposure(plan, rows, sub, crit)
    return out


def _content_mask(plan: Plan, rows: Rows, sub: IntArray, elig: NDArray) -> NDArray:
    cfg = plan.config
    if plan.c_member.shape[1]:
        counts = rows.c_counts[sub]
        full = (counts >= plan.c_max).astype(float)
        elig = elig & ~((full @ plan.c_member.T) > 0)
        deficit = np.maximum(plan.c_min - counts, 0.0)
        remaining = cfg.max_items - rows.n_scored[sub]
        tight = deficit.sum(axis=1) >= remaining
        if tight.any():
            need = ((deficit > 0).astype(float) @ plan.c_member.T) > 0
            forced = elig & need
            use = tight & forced.any(axis=1)
            elig = np.where(use[:, None], forced, elig)
    if plan.p_member.shape[1]:
        n_scored = np.maximum(rows.n_scored[sub], 1)
        gap = plan.p_target - rows.p_counts[sub] / n_scored[:, None]
        gap = np.where(rows.n_scored[sub][:, None] == 0, plan.p_target, gap)
        # Kingsbury-Zara: the area furthest below its target, among areas with items left
        has = (elig.astype(float) @ plan.p_member) > 0
        gap = np.where(has, gap, -np.inf)
        area = np.argmax(gap, axis=1)
        ok = np.isfinite(gap[np.arange(sub.size), area])
        target = plan.p_member.T[area] > 0  # (R, n)
        elig = np.where(ok[:, None], elig & target, elig)
    return elig


def _posterior(plan: Plan, rows: Rows, sub: IntArray, theta: FloatArray) -> FloatArray:
    """Posterior weights on the grid, shape ``(R, Q)``.

    Before any scored item the prior is centred at the drawn start ability, so that
    first items spread.
    """
    base = np.broadcast_to(plan.log_weight, (sub.size, plan.points.size))
    fresh = rows.n_scored[sub] == 0
    if fresh.any():
        shifted = normal_log_weight(plan.points[None, :], theta[:, None], plan.config.prior_sd)
        base = np.where(fresh[:, None], shifted, base)
    log_post = rows.loglik[sub] + base
    log_post -= log_post.max(axis=1, keepdims=True)
    w = np.exp(log_post)
    return w / w.sum(axis=1, keepdims=True)


def _criterion(plan: Plan, rows: Rows, sub: IntArray, theta: FloatArray) -> NDArray:
    """Selection criterion (larger is better) of every item, shape ``(R, n)``."""
    cfg = plan.config
    name = cfg.selector
    if name == "mfi":
        return plan.tables.information_at(theta, plan.lo, plan.hi)
    if name == "a_stratified":
        stage = np.minimum(cfg.n_strata - 1, rows.n_scored[sub] * cfg.n_strata // cfg.max_items)
        dist = np.abs(plan.stratum[None, :] - stage[:, None])
        return -(dist * 1e6 + np.abs(plan.location[None, :] - theta[:, None]))
    w = _posterior(plan, rows, sub, theta)  # (R, Q)
    n, k_max, q = plan.log_prob.shape
    if name == "kl":
        logp_now = plan.bank.log_prob(theta)  # (R, n, K)
        p_now = np.exp(logp_now)
        expected = (plan.log_prob.reshape(n * k_max, q) @ w.T).T.reshape(-1, n, k_max)
        logp_now = np.where(p_now > 0, logp_now, 0.0)
        return (p_now * (logp_now - expected)).sum(axis=2)
    if name == "mepv":
        prob = plan.grid.prob
        prob = np.where(np.isfinite(plan.grid.log_prob), prob, 0.0).reshape(n * k_max, q)
        pts = plan.points
        m0 = (prob @ w.T).T.reshape(-1, n, k_max)
        m1 = (prob @ (w * pts).T).T.reshape(-1, n, k_max)
        m2 = (prob @ (w * pts**2).T).T.reshape(-1, n, k_max)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(m0 > 0, m2 / m0 - (m1 / m0) ** 2, 0.0)
        return -(m0 * np.maximum(var, 0.0)).sum(axis=2)
    raise InvalidConfigError([f"unknown selector {name!r}"])  # pragma: no cover


def _pick_with_exposure(plan: Plan, rows: Rows, sub: IntArray, crit: NDArray) -> IntArray:
    """Best (or randomesque) item per row, with Sympson-Hetter refusals."""
    cfg = plan.config
    if plan.sh_k is None and (
        cfg.randomesque == 1 and (cfg.start_randomesque == 1 or rows.n_scored[sub].min() > 0)
    ):
        pick = np.argmax(crit, axis=1)
        best = crit[np.arange(sub.size), pick]
        return np.where(np.isfinite(best), pick, -1)
    k_rows = np.where(rows.n_scored[sub] == 0, max(cfg.start_randomesque, cfg.randomesque),
                      cfg.randomesque)  # fmt: skip
    out = np.full(sub.size, -1, dtype=np.intp)
    pending = np.arange(sub.size)
    attempt = np.zeros(sub.size, dtype=np.intp)  # crit is the caller's fresh array
    while pending.size:
        c = crit[pending]
        pick = np.argmax(c, axis=1)
        for k in np.unique(k_rows[pending]):
            if k > 1:
                r = np.nonzero(k_rows[pending] == k)[0]
                p = pending[r]
                pick[r] = _randomesque(c[r], int(k), rows.seed[sub[p]], rows.n_total[sub[p]],
                                       attempt[p])  # fmt: skip
        best = c[np.arange(pending.size), pick]
        none_left = ~np.isfinite(best)
        accept = ~none_left
        if plan.sh_k is not None:
            u = uniforms(rows.seed[sub[pending]], rows.n_total[sub[pending]], SYMPSON_HETTER,
                         attempt[pending])  # fmt: skip
            refused = accept & (u >= plan.sh_k[pick])
            if refused.any():
                r = pending[refused]
                crit[r, pick[refused]] = -np.inf
                rows.blocked[sub[r], pick[refused]] = True
                for row, item in zip(sub[r], pick[refused], strict=True):
                    rows.rejected[row].append(int(item))
                attempt[r] += 1
            accept &= ~refused
        out[pending[accept]] = pick[accept]
        pending = pending[~(accept | none_left)]
    return out


def _randomesque(crit: NDArray, k: int, seed, step, attempt) -> IntArray:
    """One of the ``k`` best items of each row, drawn uniformly (ties: lower index first)."""
    n_rows = crit.shape[0]
    k = min(k, crit.shape[1])
    work = np.array(crit, copy=True)
    top = np.empty((n_rows, k), dtype=np.intp)
    valid = np.empty((n_rows, k), dtype=bool)
    every = np.arange(n_rows)
    for j in range(k):  # k argmax passes: cheaper than a partition for small k
        best = np.argmax(work, axis=1)
        top[:, j] = best
        valid[:, j] = np.isfinite(work[every, best])
        work[every, best] = -np.inf
    order = np.argsort(top, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    count = valid.sum(axis=1)
    u = uniforms(seed, step, RANDOMESQUE, attempt)
    pick = np.floor(u * np.maximum(count, 1)).astype(np.intp)
    pos = np.argmax(np.cumsum(valid, axis=1) > pick[:, None], axis=1)
    return top[every, pos]


# -------------------------------------------------------------------------- shadow test
def _shadow_signature(plan: Plan) -> tuple[IntArray, NDArray[np.bool_]]:
    """Constraint signature of each item and whether it belongs to an enemy group.

    The signature says which constrained content areas an item counts for.
    """
    if plan._shadow_static is None:
        member = np.hstack([plan.c_member, plan.p_member])
        if member.shape[1]:
            _, sig = np.unique(member, axis=0, return_inverse=True)
        else:
            sig = np.zeros(plan.n_items, dtype=np.intp)
        has_enemy = plan.tables.meta("enemy_member").any(axis=1) if plan.has_enemies else (
            np.zeros(plan.n_items, dtype=bool))  # fmt: skip
        plan._shadow_static = (np.asarray(sig, dtype=np.intp).reshape(-1), has_enemy)
    return plan._shadow_static


def _shadow_solve(plan: Plan, rows: Rows, row: int, cand: NDArray, info: FloatArray) -> int:
    """Solve one shadow test; return the most informative free item in it (-1: infeasible).

    Items already given are constants. Candidates without enemies are pruned to the
    ``cap`` most informative of each constraint signature, where ``cap`` is the most
    items of that signature a test can still take (the free slots, and the remaining
    maximum of each constrained area it counts for): any optimal test using a pruned item
    could swap it for a free kept item of the same signature without losing information
    or breaking a constraint, so the pruning is exact.
    """
    cfg = plan.config
    sig, has_enemy = _shadow_signature(plan)
    given = rows.given[row] & plan.operational
    slots = cfg.max_items - int(rows.n_scored[row])
    idx = np.nonzero(cand)[0]
    if slots <= 0 or idx.size == 0:
        return -1
    plain = idx[~has_enemy[idx]]
    order = plain[np.lexsort((-info[plain], sig[plain]))]
    s = sig[order]
    first = np.r_[0, np.nonzero(np.diff(s))[0] + 1]
    rank = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    cap = np.full(order.size, float(slots))
    if plan.c_member.shape[1]:
        room = plan.c_max - plan.c_member[given].sum(axis=0)
        cap = np.minimum(cap, np.where(plan.c_member[order] > 0, room, np.inf).min(axis=1))
    if plan.p_member.shape[1]:
        room = np.ceil(plan.p_target * cfg.max_items) - plan.p_member[given].sum(axis=0)
        cap = np.minimum(cap, np.where(plan.p_member[order] > 0, room, np.inf).min(axis=1))
    keep = np.concatenate([order[rank < cap], idx[has_enemy[idx]]])
    m = keep.size
    blocks = [np.ones((1, m))]
    lower, upper = [float(slots)], [float(slots)]
    if plan.c_member.shape[1]:
        done = plan.c_member[given].sum(axis=0)
        blocks.append(plan.c_member[keep].T)
        lower += list(np.maximum(plan.c_min - done, 0.0))
        upper += list(plan.c_max - done)
    if plan.p_member.shape[1]:
        done = plan.p_member[given].sum(axis=0)
        blocks.append(plan.p_member[keep].T)
        lower += list(np.maximum(np.floor(plan.p_target * cfg.max_items) - done, 0.0))
        upper += list(np.ceil(plan.p_target * cfg.max_items) - done)
    if plan.has_enemies:
        groups = plan.tables.meta("enemy_member")
        present = groups[keep].any(axis=0)
        if present.any():
            blocks.append(groups[keep][:, present].T.astype(float))
            lower += [0.0] * int(present.sum())
            upper += [1.0] * int(present.sum())
    upper_arr = np.asarray(upper)
    if (upper_arr < 0).any():
        return -1
    res = optimize.milp(
        -info[keep],
        integrality=np.ones(m),
        bounds=optimize.Bounds(0, 1),
        constraints=optimize.LinearConstraint(sparse.csr_matrix(np.vstack(blocks)),
                                              np.asarray(lower), upper_arr),
        options={"time_limit": 5.0},
    )  # fmt: skip
    if res.x is None:
        return -1
    chosen = keep[res.x > 0.5]
    return int(chosen[np.argmax(info[chosen])]) if chosen.size else -1


def _shadow_select(
    plan: Plan, rows: Rows, sub: IntArray, elig: NDArray, theta: FloatArray
) -> IntArray:
    """Shadow test selection.

    At every step, the most informative full-length test that meets every constraint
    (length, content counts or proportions, enemies) and holds the items already given is
    solved with ``scipy.optimize.milp``; its most informative free item is administered
    (Sympson-Hetter may refuse it, then the test is solved again). When no full test is
    feasible, the content masks of the other selectors apply.
    """
    info = plan.tables.information_at(theta, plan.lo, plan.hi).astype(float)
    out = np.full(sub.size, -1, dtype=np.intp)
    for r, row in enumerate(sub):
        cand = elig[r].copy()
        while cand.any():
            pick = _shadow_solve(plan, rows, row, cand, info[r])
            if pick < 0:  # infeasible: fall back to the masks
                masked = _content_mask(plan, rows, np.array([row]), cand[None, :])[0]
                crit = np.where(masked, info[r], -np.inf)
            else:
                crit = np.full(plan.n_items, -np.inf)
                crit[pick] = info[r, pick]
            got = _pick_with_exposure(plan, rows, np.array([row]), crit[None, :])[0]
            if got >= 0:
                out[r] = got
                break
            cand &= ~rows.blocked[row]
            if pick < 0:
                break
    return out


def capped_items(plan: Plan, exposure: Mapping[str, int] | None) -> NDArray[np.bool_] | None:
    """Items whose exposure rate has reached ``max_exposure_rate`` (online cap)."""
    rate = plan.config.max_exposure_rate
    if rate is None or not exposure:
        return None
    n_tests = exposure.get("__tests__", 0)
    if not n_tests:
        return None
    counts = np.zeros(plan.n_items)
    for item_id, count in exposure.items():
        if item_id != "__tests__" and item_id in plan.bank:
            counts[plan.bank.index_of(item_id)] = count
    return counts / n_tests >= rate
