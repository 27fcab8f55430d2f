"""The selector base class and registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, Registry, Role

if TYPE_CHECKING:
    from engine._core import Plan, Rows

SELECTORS: Registry[Selector] = Registry("selector")
"""Registered item selectors by name; ``SELECTORS.register`` adds one."""


class Selector(Role, ABC):
    """An item selection rule: a criterion over the bank, larger is better.

    A selector is built once per (bank, configuration) plan with its declared
    ``params``; :meth:`criterion` is evaluated on many rows at once. The engine masks
    items that are not eligible (given, refused, enemies, content constraints, not
    operational), then picks the best item, or one of the ``randomesque`` best, with
    exposure control. A selector that solves the constraints itself (the shadow test) sets
    ``solves_constraints`` and overrides :meth:`choose`.

    Attributes
    ----------
    name : str
        Registry name.
    params : dict of str to Param
        Parameters the configuration may set (``selection.params``).
    """

    name: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    solves_constraints: ClassVar[bool] = False

    def __init__(self, plan: Plan, **params: Any) -> None:
        self.plan = plan
        for key, value in params.items():
            setattr(self, key, value)

    @abstractmethod
    def criterion(self, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
        """Criterion of every item for each row of ``sub`` at ``theta``, shape ``(R, n)``.

        Returns a fresh array (the caller masks it in place).
        """

    def choose(
        self, rows: Rows, sub: NDArray[np.intp], elig: NDArray[np.bool_], theta: NDArray
    ) -> NDArray[np.intp]:
        """Next item of each row (only for selectors that solve the constraints)."""
        raise NotImplementedError
