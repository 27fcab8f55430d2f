"""The constraint base class and registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Registry, Role

if TYPE_CHECKING:
    from engine._core import Plan, Rows

CONSTRAINTS: Registry[Constraint] = Registry("constraint")
"""Registered constraint strategies (each decides from the configuration whether it applies)."""


class Constraint(Role, ABC):
    """A constraint on the items of one test.

    :meth:`build` returns an instance when the configuration asks for the constraint and
    ``None`` otherwise. :meth:`mask` narrows the eligible items of each row (content
    counts and proportions), :meth:`may_stop` holds a test that may not stop yet; the
    :class:`~engine._registry.Role` hooks keep per-row counts.
    """

    name: ClassVar[str]
    masks: ClassVar[bool] = False

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    @classmethod
    @abstractmethod
    def build(cls, plan: Plan) -> Constraint | None:
        """An instance for ``plan`` when its configuration uses this constraint."""

    def mask(self, rows: Rows, sub: NDArray[np.intp], elig: NDArray[np.bool_]) -> NDArray:
        """Eligible items of each row of ``sub`` under this constraint, shape ``(R, n)``."""
        return elig

    holds_stop: ClassVar[bool] = False
    """Whether :meth:`may_stop` can hold a test back (content minimums)."""

    def shadow_bounds(self, given: NDArray[np.bool_]) -> tuple[NDArray, NDArray, NDArray]:
        """The constraint as linear rows of a shadow test, given the items already scored.

        Returns ``(member, lower, upper)``: ``member`` (n_items, C) and bounds (C,) on the
        numbers of free items ``member.T @ x`` a full test still takes. Masking constraints
        define it, so that the shadow test (:mod:`engine.selection.shadow`) meets them.
        """
        raise NotImplementedError(f"constraint {self.name!r} has no linear form")

    def may_stop(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Whether each row may stop as far as this constraint goes."""
        return np.ones(idx.size, dtype=bool)
