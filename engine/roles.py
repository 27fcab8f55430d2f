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

from dataclasses import dataclass
from typing import Any

Params = tuple[tuple[str, Any], ...]


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
        object.__setattr__(self, "params", tuple(sorted((str(i), float(k)) for i, k in
                                                         _params(self.params))))  # fmt: skip


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
