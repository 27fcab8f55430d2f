"""The stopping-rule base class, registry and stop reasons."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, Registry, Role

if TYPE_CHECKING:
    from engine._core import Plan, Rows

STOP_RULES: Registry[StopRule] = Registry("stopping rule")
"""Registered stopping rules by name; ``STOP_RULES.register`` adds one."""

STOP_REASONS: list[str] = ["se", "classified", "all_rules", "max_items", "bank_exhausted"]
"""Stop reasons by code; a registered rule with a new ``reason`` appends it."""


def register_rule(cls: type[StopRule]) -> type[StopRule]:
    """Class decorator: register a stopping rule and its stop reason."""
    STOP_RULES.register(cls)
    if cls.reason not in STOP_REASONS:
        STOP_REASONS.append(cls.reason)
    return cls


class StopRule(Role, ABC):
    """A rule that says, per row, whether a test may end now.

    Rules are combined by ``stopping.combine`` (``any`` / ``all``); the length bounds
    ``min_items`` / ``max_items`` and the content minimums always apply.

    Attributes
    ----------
    name : str
        Registry name (``stopping.rules[].name``).
    reason : str
        Stop reason reported when this rule ends a test.
    params : dict of str to Param
    needs_cut_scores : bool
        Whether the rule needs ``stopping.cut_scores``.
    """

    name: ClassVar[str]
    reason: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    needs_cut_scores: ClassVar[bool] = False

    def __init__(self, plan: Plan, **params: Any) -> None:
        self.plan = plan
        for key, value in params.items():
            setattr(self, key, value)

    @property
    def code(self) -> int:
        """Index of :attr:`reason` in :data:`STOP_REASONS`."""
        return STOP_REASONS.index(self.reason)

    @abstractmethod
    def met(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Whether the rule is met for each row of ``idx``, shape ``(N,)``."""
