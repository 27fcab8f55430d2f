"""The CAT step, vectorised over rows (examinees): the one code path of the engine.

A live session (:mod:`engine.session`) runs these kernels on one row rebuilt from its
:class:`~engine.state.CATState`; batch simulation runs them on thousands of rows at once.
The rules themselves are registered strategies (:mod:`engine.ability`,
:mod:`engine.selection`, :mod:`engine.exposure`, :mod:`engine.constraints`,
:mod:`engine.stopping`) built once per (bank, configuration) in a :class:`Plan`; there is
no other implementation of any rule, so both paths give the same tests. Randomness is
counter-based (:mod:`engine._random`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engine._random import START, uniforms
from engine._registry import overrides
from engine._tables import BankTables, bank_tables, pair_eval
from engine.ability import eap_from_loglik, get_estimator, normal_log_weight
from engine.ability._base import prior_log_weight
from engine.config import CATConfig
from engine.constraints import CONSTRAINTS, PretestSeeding, constrain
from engine.exposure import EXPOSURE_METHODS
from engine.selection import SELECTORS
from engine.selection._pick import pick
from engine.selection.shadow import _shadow_solve  # noqa: F401  (tested directly)
from engine.stopping import STOP_RULES
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Prior = tuple[FloatArray, FloatArray] | None


def pair_prob(bank: ItemBank, theta: FloatArray, items: IntArray) -> FloatArray:
    """``P(X = k | theta_r)`` of item ``items[r]`` for each row r, shape ``(R, K_max)``."""
    return np.exp(pair_eval(bank, theta, items, "log_prob"))


def item_eligibility(
    bank: ItemBank, tables: BankTables, config: CATConfig
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Items a test of ``config`` may ever give as scored items, and as pretest items.

    The one place where an item's own attributes (and the configuration's view of them)
    decide whether it can be administered: its status (``operational`` / ``pretest`` in a
    secure test, ``practice`` only and no pretest item in a practice test, ``config.mode``;
    retired items never) and its calibration flags (a flagged item that its owner has not
    accepted, ``Item.usable`` false, never; see the tables' ``status`` metadata).
    Everything per test (given, refused, enemies, content, exposure cap) is masked per row.

    Returns
    -------
    scored, pretest : ndarray of bool, shape (n_items,)
    """
    if config.mode == "practice":
        columns = bank.columns()  # per-item metadata as arrays (no loop over items)
        return columns.has_status("practice") & columns.usable, np.zeros(len(bank), dtype=bool)
    return tables.meta("operational"), tables.meta("pretest")


# ------------------------------------------------------------------------------- plans
class Plan:
    """The strategies and arrays of one (bank, configuration), built once and cached.

    The configuration is valid by construction (validated when built); here it is
    checked against the bank (item ids, content areas, statuses).
    """

    def __init__(self, bank: ItemBank, config: CATConfig) -> None:
        problems = config.problems(bank)
        if problems:
            raise InvalidConfigError(problems)
        self.bank = bank
        self.config = config
        self.tables = tables = bank_tables(bank)
        ability = config.ability
        self.lo, self.hi = ability.theta_range
        self.grid = tables.grid(self.lo, self.hi, ability.n_points)
        self.points = self.grid.points
        self.log_weight = normal_log_weight(self.points, ability.prior_mean, ability.prior_sd)
        self.log_prob = self.grid.log_prob0  # (n, K, Q)
        kwargs: dict[str, object] = {"theta_range": ability.theta_range}
        if ability.method in ("eap", "map"):
            kwargs.update(prior_mean=ability.prior_mean, prior_sd=ability.prior_sd)
        if ability.method == "eap":
            kwargs["n_points"] = ability.n_points
        self.estimator = get_estimator(ability.method, **kwargs)
        self.is_eap = ability.method == "eap"
        self.n_items = len(bank)
        self.item_ids = bank.item_ids
        self.index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        self.operational, self.pretest = item_eligibility(bank, tables, config)
        self.all_operational = bool(self.operational.all())
        # a test never gives more items than the bank holds (bounds the per-row history
        # arrays whatever max_items says)
        self.max_len = min(config.max_items + config.constraints.pretest_count, self.n_items)
        # roles
        method = config.exposure_control.method
        self.exposure = None if method == "none" else EXPOSURE_METHODS.get(method)(self)
        self.constraints = [c for c in (cls.build(self) for cls in _constraint_classes()) if c]
        self.masking = [c for c in self.constraints if c.masks]
        self.stop_holds = [c for c in self.constraints if c.holds_stop]
        self.pretest_rule = next(
            (c for c in self.constraints if isinstance(c, PretestSeeding)), None
        )
        self.stop_rules = [STOP_RULES.get(name)(self, **dict(params))
                           for name, params in config.stopping.rules]  # fmt: skip
        selection = config.selection
        self.selector = SELECTORS.get(selection.method)(self, **dict(selection.params))
        roles = [*self.constraints, *self.stop_rules, self.selector]
        if self.exposure is not None:
            roles.append(self.exposure)
        self.init_hooks = [r for r in roles if overrides(r, "init_rows")]
        self.scored_hooks = [r for r in roles if overrides(r, "add_scored")]
        self.rebuild_hooks = [r for r in roles if overrides(r, "sum_scored")]
        self.given_hooks = [r for r in roles if overrides(r, "add_given")]
        # items blocked during a test: enemies and exposure-control refusals
        self.may_block = bool(tables.meta("has_enemies") or self.exposure is not None)
        self.has_enemies = any(c.name == "enemies" for c in self.constraints)
        # empty-pattern estimate under the configuration's prior
        zero = np.zeros((1, 0), dtype=np.intp)
        t0, s0 = self.estimator._estimate_rows(bank, np.zeros(0, dtype=np.intp), zero)
        self.theta0, self.se0 = float(t0[0]), float(s0[0])
        self._shadow_static: tuple | None = None


def _constraint_classes() -> list[type]:
    return [CONSTRAINTS.get(name) for name in CONSTRAINTS.names()]


def get_plan(bank: ItemBank, config: CATConfig) -> Plan:
    """The cached :class:`Plan` of (bank, config) (checked against the bank once)."""
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
    """Per-examinee arrays of ``N`` tests in progress.

    ``prior`` gives each row its own normal prior ``(mean, sd)`` (arrays of shape
    ``(N,)``); ``None``: the configuration's. A row with its own prior starts at its prior
    mean (plus the start spread) and is scored and selected for under that prior.
    """

    def __init__(
        self, plan: Plan, seeds: NDArray, *, draw: bool = True, prior: Prior = None
    ) -> None:
        cfg = plan.config
        n_rows = len(seeds)
        n = plan.n_items
        self._plan_log_weight = plan.log_weight
        self._points = plan.points
        self.n_rows = n_rows
        self.seed = np.asarray(seeds, dtype=np.int64)
        self.prior = None
        if prior is not None:
            mean, sd = (np.broadcast_to(np.asarray(v, dtype=float), (n_rows,)).copy()
                        for v in prior)  # fmt: skip
            self.prior = (mean, sd)
        self.given = np.zeros((n_rows, n), dtype=bool)
        self.blocked = np.zeros((n_rows, n), dtype=bool)
        self.n_total = np.zeros(n_rows, dtype=np.intp)
        self.n_scored = np.zeros(n_rows, dtype=np.intp)
        self.loglik = np.zeros((n_rows, plan.points.size))
        self.hist_items = np.full((n_rows, plan.max_len), -1, dtype=np.intp)
        self.hist_resp = np.full((n_rows, plan.max_len), -1, dtype=np.intp)
        self.hist_scored = np.zeros((n_rows, plan.max_len), dtype=bool)
        self.hist_theta = np.zeros((n_rows, plan.max_len))
        self.hist_se = np.zeros((n_rows, plan.max_len))
        if self.prior is None:
            self.theta = np.full(n_rows, plan.theta0)
            self.se = np.full(n_rows, plan.se0)
            self.start_theta = np.full(n_rows, cfg.start.theta)
        else:
            empty = np.zeros((n_rows, 0), dtype=np.intp)
            self.theta, self.se = plan.estimator._estimate_rows(
                plan.bank, np.zeros(0, dtype=np.intp), empty, self.prior
            )
            self.start_theta = np.clip(self.prior[0], plan.lo, plan.hi)
        self.se_init = self.se.copy()
        self.pretest_pos = np.zeros((n_rows, cfg.constraints.pretest_count), dtype=np.intp)
        for role in plan.init_hooks:
            role.init_rows(self)
        if draw:
            self._draw_start(plan)
        self.rejected: list[list[int]] = [[] for _ in range(n_rows)]
        self.any_blocked = False  # set where items are blocked from the start (replay)

    def log_weight(self, idx: IntArray) -> FloatArray:
        """Log prior weights on the grid: ``(Q,)`` (configuration's) or ``(R, Q)``."""
        if self.prior is None:
            return self._plan_log_weight
        return prior_log_weight(self._points, (self.prior[0][idx], self.prior[1][idx]))

    def prior_of(self, idx: IntArray) -> Prior:
        """The rows' own priors, ``None`` when they use the configuration's."""
        return None if self.prior is None else (self.prior[0][idx], self.prior[1][idx])

    def _draw_start(self, plan: Plan) -> None:
        """Draw the start ability and the pretest positions from each row's seed."""
        start = plan.config.start
        zeros = np.zeros(self.n_rows, dtype=np.intp)
        u = uniforms(self.seed, zeros, START)
        centre = start.theta if self.prior is None else self.start_theta
        self.start_theta = np.clip(centre + start.spread * (2.0 * u - 1.0), plan.lo, plan.hi)
        if plan.pretest_rule is not None:
            plan.pretest_rule.draw_positions(self)


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
    for role in plan.scored_hooks:
        role.add_scored(rows, s_idx, s_items, s_resp)
    for role in plan.given_hooks:
        role.add_given(rows, idx, items)


def rows_from_history(
    plan: Plan,
    seed: int,
    items: IntArray,
    resp: IntArray,
    rejected: IntArray,
    pretest_positions: tuple[int, ...] = (),
    start_theta: float | None = None,
    *,
    prior: tuple[float, float] | None = None,
    se_history: tuple[float, ...] = (),
) -> Rows:
    """One row rebuilt from a test's history (the session path).

    Sums over the history run in administration order, exactly as the incremental
    updates of :func:`record` do, so a rebuilt row equals the row of a batch run. The
    start ability and pretest positions come from the state when ``start_theta`` is given,
    otherwise they are drawn from the seed. ``prior`` is the test's own prior, if any;
    ``se_history`` the SE after each administered item.
    """
    own = None if prior is None else (np.array([prior[0]]), np.array([prior[1]]))
    rows = Rows(plan, np.array([seed]), draw=start_theta is None, prior=own)
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
    if len(se_history) == m:
        rows.hist_se[0, :m] = se_history
    rows.n_total[0] = m
    rows.n_scored[0] = int(scored.sum())
    s_items, s_resp = items[scored], resp[scored]
    if s_items.size:
        # a reduction over axis 0 adds the rows one after another, in administration
        # order, exactly as the incremental updates of record() (tested bit for bit)
        rows.loglik[0] = plan.log_prob[s_items, s_resp].sum(axis=0)
        for role in plan.rebuild_hooks:
            role.sum_scored(rows, s_items, s_resp)
    for role in plan.given_hooks:
        role.add_given(rows, np.zeros(m, dtype=np.intp), items)
    return rows


# -------------------------------------------------------------------------- estimation
def estimate(plan: Plan, rows: Rows, idx: IntArray) -> None:
    """Re-estimate theta and SE of the rows ``idx`` from their scored responses."""
    if plan.is_eap:
        theta, se = eap_from_loglik(rows.loglik[idx], plan.points, rows.log_weight(idx))
    else:
        items = rows.hist_items[idx]
        keep = rows.hist_scored[idx]
        cols = np.unique(items[keep])
        resp = np.full((idx.size, cols.size), -1, dtype=np.intp)
        r, j = np.nonzero(keep)
        resp[r, np.searchsorted(cols, items[r, j])] = rows.hist_resp[idx][r, j]
        prior = rows.prior_of(idx)
        if idx.size == 1:
            resp = np.vstack([resp, resp])
            if prior is not None:
                prior = (np.repeat(prior[0], 2), np.repeat(prior[1], 2))
            theta, se = plan.estimator._estimate_rows(plan.bank, cols, resp, prior)
            theta, se = theta[:1], se[:1]
        else:
            theta, se = plan.estimator._estimate_rows(plan.bank, cols, resp, prior)
    rows.theta[idx] = theta
    rows.se[idx] = se
    slot = rows.n_total[idx] - 1
    rows.hist_theta[idx, slot] = theta
    rows.hist_se[idx, slot] = se


def classified(plan: Plan, rows: Rows, idx: IntArray) -> NDArray[np.bool_]:
    """Whether every cut score is decided by the configuration's classification rule."""
    rule = next(r for r in plan.stop_rules if r.needs_cut_scores)
    return rule.met(rows, idx)


# ---------------------------------------------------------------------------- selection
def select(
    plan: Plan, rows: Rows, idx: IntArray, capped: NDArray[np.bool_] | None = None
) -> IntArray:
    """Next item of each row of ``idx`` (``-1`` when nothing admissible is left).

    Exposure-control refusals are added to ``rows.blocked`` and ``rows.rejected``.
    """
    out = np.full(idx.size, -1, dtype=np.intp)
    unavailable = rows.given[idx]
    if plan.may_block or rows.any_blocked:
        unavailable |= rows.blocked[idx]
    if plan.pretest_rule is not None:
        plan.pretest_rule.fill(rows, idx, unavailable, out)
    todo = np.nonzero(out < 0)[0]
    if todo.size == 0:
        return out
    sub = idx[todo]
    theta = np.where(rows.n_scored[sub] == 0, rows.start_theta[sub], rows.theta[sub])
    masked = unavailable[todo] if todo.size < idx.size else unavailable
    if not plan.all_operational:
        masked |= ~plan.operational
    selector = plan.selector
    if capped is None and not selector.solves_constraints and not plan.masking:
        crit = selector.criterion(rows, sub, theta)  # fast path: one masking pass
        np.copyto(crit, -np.inf, where=masked)
        out[todo] = pick(plan, rows, sub, crit)
        return out
    elig = ~masked
    if capped is not None:
        trial = elig & ~capped
        elig = np.where(trial.any(axis=1, keepdims=True), trial, elig)
    if selector.solves_constraints:
        out[todo] = selector.choose(rows, sub, elig, theta)
        return out
    elig = constrain(plan, rows, sub, elig)
    crit = selector.criterion(rows, sub, theta)
    crit = np.where(elig, crit, -np.inf)
    out[todo] = pick(plan, rows, sub, crit)
    return out
