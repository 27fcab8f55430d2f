"""Role configurations: the parts a :class:`~engine.config.CATConfig` is composed of.

Each role of a test has one small frozen dataclass: :class:`AbilityConfig` (estimator,
its prior and grid), :class:`StartConfig` (first item), :class:`SelectionConfig` (item
selector and randomesque wrapper), :class:`ExposureConfig` (Sympson-Hetter, online cap),
:class:`ConstraintsConfig` (content counts or proportions, enemies, pretest seeding) and
:class:`StoppingConfig` (length bounds and the registered stopping rules combined by
``any`` / ``all``). The values are normalised here and validated once, by the
configuration that holds them; strategy-specific parameters are declared by the
strategies (see :mod:`engine._registry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine._legacy import label
from engine.ability import ESTIMATORS
from engine.exposure import EXPOSURE_METHODS
from engine.selection import SELECTORS
from engine.stopping import STOP_RULES

Params = tuple[tuple[str, Any], ...]
COMBINE = ("any", "all")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _choice(out: list[str], path: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        out.append(f"{label(path)} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def _params(value: Any) -> Params:
    items = value.items() if hasattr(value, "items") else value
    return tuple(sorted((str(k), v) for k, v in items))


@dataclass(frozen=True)
class AbilityConfig:
    """Ability estimation.

    Parameters
    ----------
    method : {"eap", "map", "ml", "wle"}, default "eap"
        Registered estimator (:mod:`engine.ability`); ML and WLE score non-mixed patterns
        by EAP under the examinee's prior (N(0, 1) unless the test has its own).
    prior_mean, prior_sd : float, default 0, 1
        Normal prior of EAP/MAP and of the posterior-weighted selectors, for tests that
        do not bring their own (see ``prior`` of :func:`engine.session.start`).
    n_points : int, default 61
        Quadrature points on ``theta_range`` (5 .. 2001).
    theta_range : (float, float), default (-4, 4)
        No estimate leaves this range.
    """

    method: str = "eap"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    n_points: int = 61
    theta_range: tuple[float, float] = (-4.0, 4.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", str(self.method).lower())
        object.__setattr__(self, "theta_range", tuple(float(v) for v in self.theta_range))

    def problems(self) -> list[str]:
        """Every problem of these values."""
        out: list[str] = []
        _choice(out, "ability.method", self.method, ESTIMATORS.names())
        lo, hi = self.theta_range if len(self.theta_range) == 2 else (math.nan, math.nan)
        if not (_finite(lo) and _finite(hi) and lo < hi):
            out.append(f"{label('ability.theta_range')} must be two finite numbers low < high, "
                       f"got {self.theta_range!r}")  # fmt: skip
        if not (_finite(self.prior_sd) and self.prior_sd > 0):
            out.append(f"{label('ability.prior_sd')} must be > 0, got {self.prior_sd!r}")
        if not _finite(self.prior_mean):
            out.append(f"{label('ability.prior_mean')} must be finite, got {self.prior_mean!r}")
        if not 5 <= self.n_points <= 2001:
            out.append(f"{label('ability.n_points')} must be in 5..2001, got {self.n_points!r}")
        return out


@dataclass(frozen=True)
class StartConfig:
    """Start rule.

    Parameters
    ----------
    theta : float, default 0.0
        Centre of the ability at which the first item is chosen (a test with its own
        prior starts at its prior mean instead).
    spread : float, default 1.0
        The first item is chosen at ``theta + U(-spread, spread)`` (from the test's seed),
        so that no item is given to everyone; 0 gives a fixed start.
    randomesque : int, default 5
        The first item is drawn among the ``k`` best at the start ability.
    """

    theta: float = 0.0
    spread: float = 1.0
    randomesque: int = 5

    def problems(self, theta_range: tuple[float, float]) -> list[str]:
        """Every problem of these values (the start must lie in ``theta_range``)."""
        out: list[str] = []
        lo, hi = theta_range if len(theta_range) == 2 else (math.nan, math.nan)
        if not _finite(self.theta) or not lo <= self.theta <= hi:
            out.append(f"{label('start.theta')} must lie in theta_range {theta_range}, "
                       f"got {self.theta!r}")  # fmt: skip
        if not (_finite(self.spread) and self.spread >= 0):
            out.append(f"{label('start.spread')} must be >= 0, got {self.spread!r}")
        if self.randomesque < 1:
            out.append(f"{label('start.randomesque')} must be >= 1, got {self.randomesque!r}")
        return out


@dataclass(frozen=True)
class SelectionConfig:
    """Item selection.

    Parameters
    ----------
    method : str, default "mfi"
        Registered selector (:mod:`engine.selection`): ``mfi``, ``kl``, ``mepv``,
        ``mpwi``, ``a_stratified``, ``shadow``.
    randomesque : int, default 1
        Choose at random among the ``k`` best items by the selector's criterion.
    params : mapping, default {}
        Parameters the selector declares (for example ``n_strata`` of ``a_stratified``).
    """

    method: str = "mfi"
    randomesque: int = 1
    params: Params = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", str(self.method).lower())
        object.__setattr__(self, "params", _params(self.params))

    def problems(self) -> list[str]:
        """Every problem of these values (the selector's parameters are read on build)."""
        out: list[str] = []
        _choice(out, "selection.method", self.method, SELECTORS.names())
        if self.randomesque < 1:
            out.append(f"{label('selection.randomesque')} must be >= 1, "
                       f"got {self.randomesque!r}")  # fmt: skip
        return out


@dataclass(frozen=True)
class ExposureConfig:
    """Exposure control.

    Parameters
    ----------
    method : {"none", "sympson_hetter"}, default "none"
    params : mapping of item id to float, default {}
        Sympson-Hetter probabilities ``k`` in (0, 1] (1 for items not listed); see
        :func:`engine.exposure.fit_sympson_hetter`.
    max_rate : float or None, default None
        Online cap: items whose exposure rate (counts passed to the session) has reached
        it are not selected.
    """

    method: str = "none"
    params: tuple[tuple[str, float], ...] = ()
    max_rate: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", str(self.method).lower())
        pairs = sorted((str(i), float(k)) for i, k in _params(self.params))
        object.__setattr__(self, "params", tuple(pairs))

    def problems(self) -> list[str]:
        """Every problem of these values."""
        out: list[str] = []
        _choice(out, "exposure_control.method", self.method, EXPOSURE_METHODS.names())
        for item_id, k in self.params:
            if not (_finite(k) and 0 < k <= 1):
                out.append(f"{label('exposure_control.params')}[{item_id!r}] must be in (0, 1], "
                           f"got {k!r}")  # fmt: skip
        if self.params and self.method != "sympson_hetter":
            out.append("exposure_params are given but exposure is not 'sympson_hetter'")
        rate = self.max_rate
        if rate is not None and not (_finite(rate) and 0 < rate <= 1):
            out.append(f"{label('exposure_control.max_rate')} must be in (0, 1], got {rate!r}")
        return out


@dataclass(frozen=True)
class ConstraintsConfig:
    """Constraints on the items of one test.

    Parameters
    ----------
    content : tuple of (area, min, max), default ()
        Count constraints per content area (scored items).
    content_proportions : tuple of (area, proportion), default ()
        Target proportions (Kingsbury-Zara balancing).
    enemies : bool, default True
        Items sharing an enemy group are never in the same test.
    pretest_count, pretest_first, pretest_last : int, default 0, 1, 0
        Unscored pretest items seeded at random positions ``pretest_first ..
        pretest_last`` (1-based; ``pretest_last = 0``: up to ``max_items``).
    """

    content: tuple[tuple[str, int, int], ...] = ()
    content_proportions: tuple[tuple[str, float], ...] = ()
    enemies: bool = True
    pretest_count: int = 0
    pretest_first: int = 1
    pretest_last: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "content",
             tuple(sorted((str(a), int(lo), int(hi)) for a, lo, hi in self.content)))  # fmt: skip
        props = sorted((str(a), float(p)) for a, p in _params(self.content_proportions))
        set_(self, "content_proportions", tuple(props))

    def problems(self, max_items: int) -> list[str]:
        """Every problem of these values (minimums and positions within ``max_items``)."""
        out: list[str] = []
        areas = [area for area, _, _ in self.content]
        if len(set(areas)) != len(areas):
            out.append("content lists an area twice")
        for area, a_min, a_max in self.content:
            if a_min < 0 or a_max < a_min:
                out.append(f"content[{area!r}] needs 0 <= min <= max, got min {a_min}, max {a_max}")
        if sum(a_min for _, a_min, _ in self.content) > max_items:
            out.append(f"content minimums add up to more than max_items ({max_items})")
        total = 0.0
        for area, p in self.content_proportions:
            if not (_finite(p) and 0 <= p <= 1):
                out.append(f"content_proportions[{area!r}] must be in [0, 1], got {p!r}")
            total += p
        if self.content_proportions and not abs(total - 1.0) <= 1e-6:
            out.append(f"content_proportions must add up to 1, got {total:g}")
        if self.content and self.content_proportions:
            out.append("give either content (min/max counts) or content_proportions, not both")
        if self.pretest_count < 0:
            out.append(f"pretest_count must be >= 0, got {self.pretest_count!r}")
        last = self.pretest_last or max_items
        if self.pretest_count and not 1 <= self.pretest_first <= last:
            out.append(f"pretest positions need 1 <= pretest_first <= pretest_last, got "
                       f"{self.pretest_first}..{last}")  # fmt: skip
        elif self.pretest_count > last - self.pretest_first + 1:
            out.append(f"pretest_count {self.pretest_count} exceeds the positions "
                       f"{self.pretest_first}..{last}")  # fmt: skip
        return out


@dataclass(frozen=True)
class StoppingConfig:
    """Stopping.

    Parameters
    ----------
    min_items, max_items : int, default 1, 40
        Bounds of the number of scored items (always applied).
    rules : tuple of (name, params), default (("se", {"threshold": 0.3}),)
        Registered stopping rules (:mod:`engine.stopping`) in order of precedence of
        their stop reasons: ``se``, ``sprt``, ``ci``, ``se_plateau``.
    combine : {"any", "all"}, default "any"
        Stop when any rule (or all of them) is met.
    cut_scores : tuple of float, default ()
        Increasing cut scores, used by the classification rules and the result.
    """

    min_items: int = 1
    max_items: int = 40
    rules: tuple[tuple[str, Params], ...] = (("se", (("threshold", 0.3),)),)
    combine: str = "any"
    cut_scores: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        rules = self.rules.items() if hasattr(self.rules, "items") else self.rules
        object.__setattr__(self, "rules",
                           tuple((str(n).lower(), _params(p)) for n, p in rules))  # fmt: skip
        object.__setattr__(self, "combine", str(self.combine).lower())
        object.__setattr__(self, "cut_scores", tuple(float(v) for v in self.cut_scores))

    def problems(self) -> list[str]:
        """Every problem of these values (the rules' parameters are read on build)."""
        out: list[str] = []
        if self.min_items < 1:
            out.append(f"{label('stopping.min_items')} must be >= 1, got {self.min_items!r}")
        if self.max_items < self.min_items:
            out.append(f"{label('stopping.max_items')} ({self.max_items}) must be >= min_items "
                       f"({self.min_items})")  # fmt: skip
        _choice(out, "stopping.combine", self.combine, COMBINE)
        cuts = self.cut_scores
        if any(not _finite(v) for v in cuts) or list(cuts) != sorted(set(cuts)):
            out.append(f"cut_scores must be finite and strictly increasing, got {list(cuts)}")
        names = [n for n, _ in self.rules]
        if len(set(names)) != len(names):
            out.append(f"stopping.rules lists a rule twice: {names}")
        for name in names:
            if name not in STOP_RULES:
                out.append(f"stopping rule must be one of {', '.join(STOP_RULES.names())}, "
                           f"got {name!r}")  # fmt: skip
            elif STOP_RULES.get(name).needs_cut_scores and not cuts:
                out.append(f"classification {name!r} needs cut_scores")
        return out

    def rule(self, name: str) -> dict[str, Any] | None:
        """Parameters of the rule ``name``, or ``None`` when it is not used."""
        for n, p in self.rules:
            if n == name:
                return dict(p)
        return None


ROLES: dict[str, type] = {
    "ability": AbilityConfig,
    "start": StartConfig,
    "selection": SelectionConfig,
    "exposure_control": ExposureConfig,
    "constraints": ConstraintsConfig,
    "stopping": StoppingConfig,
}
"""Role sections of a configuration, by their key in ``CATConfig.to_dict``."""

__all__ = [
    "AbilityConfig",
    "ConstraintsConfig",
    "ExposureConfig",
    "SelectionConfig",
    "StartConfig",
    "StoppingConfig",
]
