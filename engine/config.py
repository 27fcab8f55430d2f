"""Configuration of an adaptive test: one immutable, JSON-serialisable value.

A :class:`CATConfig` names every rule of a test (start, estimator, selector, exposure
control, constraints, stopping, result visibility) with sane defaults: EAP, maximum Fisher
information, a spread start, SE < 0.3 or 40 items. ``CATConfig.from_dict`` validates
everything at once (optionally against a bank) and ``to_dict`` gives a dict that
``from_dict`` turns back into an equal config.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError

ESTIMATORS = ("eap", "map", "ml", "wle")
SELECTORS = ("mfi", "kl", "mepv", "a_stratified", "shadow")
EXPOSURE_METHODS = ("none", "sympson_hetter")
CLASSIFICATION_RULES = ("sprt", "ci")
COMBINE = ("any", "all")


@dataclass(frozen=True)
class CATConfig:
    """Rules of one adaptive test.

    Parameters
    ----------
    estimator : {"eap", "map", "ml", "wle"}, default "eap"
        Ability estimator (see :mod:`engine.ability`); ML and WLE score non-mixed patterns
        by EAP under N(0, 1).
    prior_mean, prior_sd : float, default 0, 1
        Normal prior of EAP/MAP, also used by the posterior-weighted selectors.
    n_points : int, default 61
        Quadrature points of EAP on ``theta_range``.
    theta_range : (float, float), default (-4, 4)
        No estimate leaves this range.
    start_theta : float, default 0.0
        Centre of the ability used to choose the first item.
    start_spread : float, default 1.0
        The first item is chosen at ``start_theta + U(-spread, spread)`` (drawn from the
        test's seed) so that no item is given to everyone; 0 gives a fixed start.
    start_randomesque : int, default 5
        The first item is drawn at random among the ``k`` best at the start ability
        (1: the best).
    selector : {"mfi", "kl", "mepv", "a_stratified", "shadow"}, default "mfi"
        Maximum Fisher information; posterior-weighted Kullback-Leibler; minimum expected
        posterior variance; a-stratified with b-matching (Chang & Ying); shadow test
        (``scipy.optimize.milp`` over the full blueprint, then the most informative free
        item).
    randomesque : int, default 1
        Choose at random among the best ``k`` items by the selector's criterion (>= 1).
    n_strata : int, default 4
        Strata of the a-stratified selector.
    exposure : {"none", "sympson_hetter"}, default "none"
    exposure_params : tuple of (item_id, k), default ()
        Sympson-Hetter probabilities ``k`` in (0, 1] (1 for items not listed); see
        :func:`engine.exposure.fit_sympson_hetter`. ``from_dict`` accepts a mapping.
    max_exposure_rate : float or None, default None
        Online cap: with exposure counts passed to :func:`engine.session.start` /
        ``respond`` (``{item_id: n_tests_given, "__tests__": n_tests}``), items whose rate
        has reached the cap are not selected.
    content : tuple of (area, min, max), default ()
        Count constraints per content area (scored items). ``from_dict`` accepts
        ``{area: {"min": m, "max": M}}``.
    content_proportions : tuple of (area, proportion), default ()
        Target proportions (Kingsbury-Zara balancing).
    enemies : bool, default True
        Items sharing an enemy group are never in the same test.
    pretest_count : int, default 0
        Unscored pretest items seeded at random positions ``pretest_first ..
        pretest_last`` (1-based positions in the test; ``pretest_last = 0``: up to
        ``max_items``).
    min_items, max_items : int, default 1, 40
        Bounds of the number of scored items.
    stop_se : float or None, default 0.3
        Stop when the SE is at most this.
    cut_scores : tuple of float, default ()
        Increasing cut scores for classification.
    classification : {"sprt", "ci"} or None, default None
        Stop when every cut score is decided: SPRT with indifference region
        ``cut +- sprt_delta`` and error rates ``sprt_alpha``, ``sprt_beta``; or the
        confidence interval ``theta +- z se`` (level ``ci_level``) clear of every cut.
    stop_combine : {"any", "all"}, default "any"
        How the SE and classification rules combine (min/max length always apply).
    show_results : bool, default True
        Whether the examinee may see the result (the API hides it otherwise).

    Examples
    --------
    >>> config = CATConfig(stop_se=0.25, max_items=30)
    >>> CATConfig.from_dict(config.to_dict()) == config
    True
    """

    estimator: str = "eap"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    n_points: int = 61
    theta_range: tuple[float, float] = (-4.0, 4.0)
    start_theta: float = 0.0
    start_spread: float = 1.0
    start_randomesque: int = 5
    selector: str = "mfi"
    randomesque: int = 1
    n_strata: int = 4
    exposure: str = "none"
    exposure_params: tuple[tuple[str, float], ...] = ()
    max_exposure_rate: float | None = None
    content: tuple[tuple[str, int, int], ...] = ()
    content_proportions: tuple[tuple[str, float], ...] = ()
    enemies: bool = True
    pretest_count: int = 0
    pretest_first: int = 1
    pretest_last: int = 0
    min_items: int = 1
    max_items: int = 40
    stop_se: float | None = 0.3
    cut_scores: tuple[float, ...] = ()
    classification: str | None = None
    sprt_delta: float = 0.2
    sprt_alpha: float = 0.05
    sprt_beta: float = 0.05
    ci_level: float = 0.95
    stop_combine: str = "any"
    show_results: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "theta_range", tuple(float(v) for v in self.theta_range))
        set_(self, "cut_scores", tuple(float(v) for v in self.cut_scores))
        set_(self, "exposure_params",
             tuple(sorted((str(i), float(k)) for i, k in self.exposure_params)))  # fmt: skip
        set_(self, "content",
             tuple(sorted((str(a), int(lo), int(hi)) for a, lo, hi in self.content)))  # fmt: skip
        set_(self, "content_proportions",
             tuple(sorted((str(a), float(p)) for a, p in self.content_proportions)))  # fmt: skip
        problems = self.problems()
        if problems:
            raise InvalidConfigError(problems)

    # ------------------------------------------------------------------------ checking
    def problems(self, bank: ItemBank | None = None) -> list[str]:
        """Every problem of this configuration (against ``bank`` when given)."""
        out: list[str] = []

        def choice(name: str, allowed: tuple[Any, ...]) -> None:
            if getattr(self, name) not in allowed:
                out.append(f"{name} must be one of {', '.join(map(str, allowed))}, "
                           f"got {getattr(self, name)!r}")  # fmt: skip

        choice("estimator", ESTIMATORS)
        choice("selector", SELECTORS)
        choice("exposure", EXPOSURE_METHODS)
        choice("classification", (*CLASSIFICATION_RULES, None))
        choice("stop_combine", COMBINE)
        lo, hi = self.theta_range if len(self.theta_range) == 2 else (math.nan, math.nan)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            out.append(
                f"theta_range must be two finite numbers low < high, got {self.theta_range!r}"
            )
        if not (math.isfinite(self.prior_sd) and self.prior_sd > 0):
            out.append(f"prior_sd must be > 0, got {self.prior_sd!r}")
        if not math.isfinite(self.prior_mean):
            out.append(f"prior_mean must be finite, got {self.prior_mean!r}")
        if not 5 <= self.n_points <= 2001:
            out.append(f"n_points must be in 5..2001, got {self.n_points!r}")
        if not math.isfinite(self.start_theta) or not lo <= self.start_theta <= hi:
            out.append(
                f"start_theta must lie in theta_range {self.theta_range}, got {self.start_theta!r}"
            )
        if not (math.isfinite(self.start_spread) and self.start_spread >= 0):
            out.append(f"start_spread must be >= 0, got {self.start_spread!r}")
        if self.start_randomesque < 1:
            out.append(f"start_randomesque must be >= 1, got {self.start_randomesque!r}")
        if self.randomesque < 1:
            out.append(f"randomesque must be >= 1, got {self.randomesque!r}")
        if self.n_strata < 1:
            out.append(f"n_strata must be >= 1, got {self.n_strata!r}")
        for item_id, k in self.exposure_params:
            if not 0 < k <= 1:
                out.append(f"exposure_params[{item_id!r}] must be in (0, 1], got {k!r}")
        if self.exposure_params and self.exposure != "sympson_hetter":
            out.append("exposure_params are given but exposure is not 'sympson_hetter'")
        if self.max_exposure_rate is not None and not 0 < self.max_exposure_rate <= 1:
            out.append(f"max_exposure_rate must be in (0, 1], got {self.max_exposure_rate!r}")
        if self.min_items < 1:
            out.append(f"min_items must be >= 1, got {self.min_items!r}")
        if self.max_items < self.min_items:
            out.append(f"max_items ({self.max_items}) must be >= min_items ({self.min_items})")
        areas = [a for a, _, _ in self.content]
        if len(set(areas)) != len(areas):
            out.append("content lists an area twice")
        for area, a_min, a_max in self.content:
            if a_min < 0 or a_max < a_min:
                out.append(f"content[{area!r}] needs 0 <= min <= max, got min {a_min}, max {a_max}")
        if sum(a_min for _, a_min, _ in self.content) > self.max_items:
            out.append(f"content minimums add up to more than max_items ({self.max_items})")
        total = 0.0
        for area, p in self.content_proportions:
            if not 0 <= p <= 1:
                out.append(f"content_proportions[{area!r}] must be in [0, 1], got {p!r}")
            total += p
        if self.content_proportions and abs(total - 1.0) > 1e-6:
            out.append(f"content_proportions must add up to 1, got {total:g}")
        if self.content and self.content_proportions:
            out.append("give either content (min/max counts) or content_proportions, not both")
        if self.pretest_count < 0:
            out.append(f"pretest_count must be >= 0, got {self.pretest_count!r}")
        last = self.pretest_last or self.max_items
        if self.pretest_count and not 1 <= self.pretest_first <= last:
            out.append(f"pretest positions need 1 <= pretest_first <= pretest_last, got "
                       f"{self.pretest_first}..{last}")  # fmt: skip
        elif self.pretest_count > last - self.pretest_first + 1:
            out.append(f"pretest_count {self.pretest_count} exceeds the positions "
                       f"{self.pretest_first}..{last}")  # fmt: skip
        if self.stop_se is not None and not (math.isfinite(self.stop_se) and self.stop_se > 0):
            out.append(f"stop_se must be > 0 or null, got {self.stop_se!r}")
        cuts = self.cut_scores
        if any(not math.isfinite(c) for c in cuts) or list(cuts) != sorted(set(cuts)):
            out.append(f"cut_scores must be finite and strictly increasing, got {list(cuts)}")
        if self.classification is not None and not cuts:
            out.append(f"classification {self.classification!r} needs cut_scores")
        if not 0 < self.sprt_delta:
            out.append(f"sprt_delta must be > 0, got {self.sprt_delta!r}")
        for name in ("sprt_alpha", "sprt_beta"):
            if not 0 < getattr(self, name) < 0.5:
                out.append(f"{name} must be in (0, 0.5), got {getattr(self, name)!r}")
        if not 0 < self.ci_level < 1:
            out.append(f"ci_level must be in (0, 1), got {self.ci_level!r}")
        if bank is not None:
            out += _bank_problems(bank, self.exposure_params, self.content,
                                  self.content_proportions, self.pretest_count)  # fmt: skip
        return out

    # --------------------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``CATConfig.from_dict(config.to_dict()) == config``."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        out["theta_range"] = list(self.theta_range)
        out["cut_scores"] = list(self.cut_scores)
        out["exposure_params"] = dict(self.exposure_params)
        out["content"] = {a: {"min": lo, "max": hi} for a, lo, hi in self.content}
        out["content_proportions"] = dict(self.content_proportions)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], bank: ItemBank | None = None) -> CATConfig:
        """Build and validate a configuration from a (JSON) mapping.

        Parameters
        ----------
        data : mapping
            Keys are the field names of :class:`CATConfig` (missing keys take defaults).
        bank : ItemBank, optional
            Also check item ids, content areas and pretest items against this bank.

        Raises
        ------
        InvalidConfigError
            Listing every problem (unknown keys, wrong types, out-of-range values).

        Examples
        --------
        >>> data = {"selector": "kl", "content": {"loops": {"min": 2, "max": 5}}}
        >>> CATConfig.from_dict(data).content
        (('loops', 2, 5),)
        """
        if not isinstance(data, Mapping):
            raise InvalidConfigError(
                [f"configuration must be a mapping, got {type(data).__name__}"]
            )
        problems: list[str] = []
        known = {f.name: f for f in fields(cls) if not f.name.startswith("_")}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                problems.append(f"unknown key {key!r}")
                continue
            try:
                kwargs[key] = _convert(key, value, cls.__dataclass_fields__[key].default)
            except (TypeError, ValueError) as error:
                problems.append(f"{key}: {error}")
        if problems:
            raise InvalidConfigError(problems)
        try:
            config = cls(**kwargs)
        except InvalidConfigError as error:
            problems = list(error.problems)
            if bank is not None:
                problems += _bank_problems(
                    bank, tuple(kwargs.get("exposure_params", ())),
                    tuple(kwargs.get("content", ())), tuple(kwargs.get("content_proportions", ())),
                    int(kwargs.get("pretest_count", 0)),
                )  # fmt: skip
            raise InvalidConfigError(problems) from None
        if bank is not None:
            problems = config.problems(bank)
            if problems:
                raise InvalidConfigError(problems)
        return config

    def replace(self, **changes: Any) -> CATConfig:
        """A copy with some fields changed (validated)."""
        data = asdict(self)
        data.update(changes)
        return CATConfig(**data)


def _convert(key: str, value: Any, default: Any) -> Any:
    def number(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"expected a number, got {v!r}")
        return float(v)

    def integer(v: Any) -> int:
        if isinstance(v, bool) or (
            not isinstance(v, int) and not (isinstance(v, float) and v.is_integer())
        ):
            raise TypeError(f"expected an integer, got {v!r}")
        return int(v)

    if key in ("estimator", "selector", "exposure", "stop_combine"):
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value.lower()
    if key == "classification":
        if value is not None and not isinstance(value, str):
            raise TypeError(f"expected a string or null, got {value!r}")
        return value.lower() if value else None
    if key in ("enemies", "show_results"):
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if key == "theta_range":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise TypeError(f"expected [low, high], got {value!r}")
        return tuple(number(v) for v in value)
    if key == "cut_scores":
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list of numbers, got {value!r}")
        return tuple(number(v) for v in value)
    if key == "exposure_params":
        items = value.items() if isinstance(value, Mapping) else value
        return tuple((str(i), number(k)) for i, k in items)
    if key == "content_proportions":
        items = value.items() if isinstance(value, Mapping) else value
        return tuple((str(a), number(p)) for a, p in items)
    if key == "content":
        if isinstance(value, Mapping):
            out = []
            for area, spec in value.items():
                if not isinstance(spec, Mapping) or set(spec) - {"min", "max"}:
                    raise TypeError(f"area {area!r}: expected {{'min': m, 'max': M}}, got {spec!r}")
                out.append((str(area), integer(spec.get("min", 0)),
                            integer(spec.get("max", 10**6))))  # fmt: skip
            return tuple(out)
        return tuple((str(a), integer(lo), integer(hi)) for a, lo, hi in value)
    if key in ("stop_se", "max_exposure_rate"):
        return None if value is None else number(value)
    if isinstance(default, bool):
        return value
    if isinstance(default, int):
        return integer(value)
    if isinstance(default, float):
        return number(value)
    return value


def _bank_problems(
    bank: ItemBank,
    exposure_params: tuple[tuple[str, float], ...],
    content: tuple[tuple[str, int, int], ...],
    content_proportions: tuple[tuple[str, float], ...],
    pretest_count: int,
) -> list[str]:
    """Problems of config values that refer to a bank (item ids, areas, statuses)."""
    out = []
    for item_id, _ in exposure_params:
        if item_id not in bank:
            out.append(f"exposure_params: unknown item id {item_id!r} in bank {bank.name!r}")
    known = {a for item in bank.items for a in item.content_areas}
    for area in [a for a, _, _ in content] + [a for a, _ in content_proportions]:
        if area not in known:
            out.append(f"content area {area!r} is not used by any item of bank {bank.name!r}")
    if not any(item.status == "operational" for item in bank.items):
        out.append(f"bank {bank.name!r} has no operational item")
    if pretest_count and not any(item.status == "pretest" for item in bank.items):
        out.append(f"pretest_count is {pretest_count} but bank {bank.name!r} has no pretest item")
    for area, a_min, _ in content:
        avail = sum(area in item.content_areas and item.status == "operational"
                    for item in bank.items)  # fmt: skip
        if known and area in known and avail < a_min:
            out.append(f"content[{area!r}] needs {a_min} items, bank has {avail}")
    return out


__all__ = ["CATConfig"]
