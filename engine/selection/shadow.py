"""Shadow test selection (van der Linden & Reese, 1998), solved by ``scipy.optimize.milp``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse

from engine.constraints import constrain
from engine.selection._base import SELECTORS, Selector
from engine.selection._pick import pick as pick_item

if TYPE_CHECKING:
    from engine._core import Plan, Rows

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _shadow_signature(plan: Plan) -> tuple[IntArray, NDArray[np.bool_]]:
    """Constraint signature of each item and whether it belongs to an enemy group.

    The signature says which constrained content areas an item counts for.
    """
    if plan._shadow_static is None:
        member = np.hstack([np.zeros((plan.n_items, 0))]
                           + [c.member for c in plan.masking])  # fmt: skip
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
    # each masking constraint as linear rows: lower <= member' x <= upper over free items
    linear = [c.shadow_bounds(given) for c in plan.masking]
    for member, _, up in linear:  # the most items of a signature a test can still take
        cap = np.minimum(cap, np.where(member[order] > 0, up, np.inf).min(axis=1))
    keep = np.concatenate([order[rank < cap], idx[has_enemy[idx]]])
    m = keep.size
    blocks = [np.ones((1, m))]
    lower, upper = [float(slots)], [float(slots)]
    for member, lo, up in linear:
        blocks.append(member[keep].T)
        lower += list(lo)
        upper += list(up)
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
                masked = constrain(plan, rows, np.array([row]), cand[None, :])[0]
                crit = np.where(masked, info[r], -np.inf)
            else:
                crit = np.full(plan.n_items, -np.inf)
                crit[pick] = info[r, pick]
            got = pick_item(plan, rows, np.array([row]), crit[None, :])[0]
            if got >= 0:
                out[r] = got
                break
            cand &= ~rows.blocked[row]
            if pick < 0:
                break
    return out



@SELECTORS.register
class ShadowTest(Selector):
    """Shadow test: the most informative full test meeting every constraint.

    At every step the most informative full-length test that meets the length, content
    counts or proportions and enemy constraints and holds the items already given is
    solved with ``scipy.optimize.milp``; its most informative free item is administered
    (exposure control may refuse it, then the test is solved again). When no full test
    is feasible, the content masks of the other selectors apply.
    """

    name = "shadow"
    solves_constraints = True

    def __init__(self, plan: Plan, **params: Any) -> None:
        super().__init__(plan, **params)
        plan._shadow_static = None

    def criterion(self, rows: Rows, sub: IntArray, theta: FloatArray) -> NDArray:
        plan = self.plan
        return plan.tables.information_at(theta, plan.lo, plan.hi)

    def choose(self, rows: Rows, sub: IntArray, elig: NDArray, theta: FloatArray) -> IntArray:
        return _shadow_select(self.plan, rows, sub, elig, theta)
