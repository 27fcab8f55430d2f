"""Stopping rules: registered strategies, one module each, and their combination.

* ``se`` - standard error at most a threshold (:mod:`.se`);
* ``sprt`` - every cut score decided by an SPRT (:mod:`.sprt`);
* ``ci`` - confidence interval clear of every cut score (:mod:`.ci`);
* ``se_plateau`` - the SE stopped improving (:mod:`.se_plateau`).

The length bounds always apply: no stop before ``min_items`` scored items (or while a
content minimum is unmet), always a stop at ``max_items``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.stopping import ci, se, se_plateau, sprt  # noqa: F401  (registration)
from engine.stopping._base import STOP_REASONS, STOP_RULES, StopRule, register_rule

if TYPE_CHECKING:
    from engine._core import Plan, Rows

NO_STOP = -1


def stop_codes(plan: Plan, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index into :data:`STOP_REASONS` for each row of ``idx``, ``-1`` to go on."""
    cfg = plan.config.stopping
    n_scored = rows.n_scored[idx]
    out = np.full(idx.size, NO_STOP, dtype=np.intp)
    rules = plan.stop_rules
    if rules:
        met = [rule.met(rows, idx) for rule in rules]
        stack = np.stack(met)
        every = cfg.combine == "all"
        hit = stack.all(axis=0) if every else stack.any(axis=0)
        if every and len(rules) > 1:
            code = np.full(idx.size, STOP_REASONS.index("all_rules"))
        else:  # the first rule met gives the reason
            code = np.full(idx.size, rules[-1].code)
            for rule, m in zip(rules[::-1], met[::-1], strict=True):
                code = np.where(m, rule.code, code)
        may_stop = n_scored >= cfg.min_items
        for constraint in plan.stop_holds:
            may_stop &= constraint.may_stop(rows, idx)
        out = np.where(hit & may_stop, code, out)
    out = np.where(n_scored >= cfg.max_items, STOP_REASONS.index("max_items"), out)
    return out.astype(np.intp)


__all__ = ["NO_STOP", "STOP_REASONS", "STOP_RULES", "StopRule", "register_rule", "stop_codes"]
