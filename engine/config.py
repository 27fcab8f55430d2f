"""Configuration of an adaptive test: one immutable, JSON-serialisable value.

A :class:`CATConfig` is composed of one configuration per role (see :mod:`engine.roles`):
``ability``, ``start``, ``selection``, ``exposure_control``, ``constraints`` and
``stopping``, plus how a test is delivered: ``show_results``, ``mode`` (``"secure"``, or
``"practice"``: only items of status ``practice``, which may be disclosed) and
``feedback`` after each answer (``"none"``, ``"progress"``, or ``"item"``: also whether
the answer was right and the item's explanation, practice mode only). Defaults: EAP,
maximum Fisher information, a spread start, SE < 0.3 or 40 items. A configuration is
validated once, when it is built, and every problem is reported at once.

``to_dict`` gives the nested form (``"format": "zapcat-cat-config/2"``);
``from_dict`` reads it, and also the flat form of ``zapcat-cat-config/1`` (a dict with no
``format``, as stored by earlier versions in databases and files), whose keys
(``selector``, ``stop_se``, ``max_items`` ...) stay accepted everywhere as aliases of the
nested fields, and readable as attributes (``config.max_items``). ``to_flat`` gives that
flat form (used by simulation reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from engine import _legacy
from engine._registry import read_params
from engine.roles import (
    ROLES,
    AbilityConfig,
    ConstraintsConfig,
    ExposureConfig,
    SelectionConfig,
    StartConfig,
    StoppingConfig,
)
from engine.selection import SELECTORS
from engine.stopping import STOP_RULES
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError

FORMAT = "zapcat-cat-config/2"
"""Value of the ``format`` field of :meth:`CATConfig.to_dict`."""

COMBINE = ("any", "all")

MODES = ("secure", "practice")
"""Test modes: secure tests give operational (and pretest) items; practice tests give
only items of status ``practice`` and are never calibrated, counted or credentialed."""

FEEDBACK = ("none", "progress", "item")
"""Feedback after each answer, each level adding to the one before: nothing; the skill's
items answered and current level with its interval; whether the answer was right (or
the category earned) with the item's explanation (practice mode only)."""

DELIVERY = {"show_results": True, "mode": "secure", "feedback": "none"}
"""Top-level fields of the configuration (beside the roles) with their defaults."""


@dataclass(frozen=True, init=False)
class CATConfig:
    """Rules of one adaptive test, composed of role configurations.

    Parameters
    ----------
    ability, start, selection, exposure_control, constraints, stopping : role config
        See :mod:`engine.roles` (defaults when omitted).
    show_results : bool, default True
        Whether the examinee may see the result (the API hides it otherwise).
    mode : {"secure", "practice"}, default "secure"
        ``practice``: the test gives only items of status ``practice`` (and no pretest
        item); a secure test never gives them.
    feedback : {"none", "progress", "item"}, default "none"
        What each answer's reply adds (see :data:`FEEDBACK`); ``progress`` and ``item``
        show scores, so they need ``show_results``; ``item`` needs practice mode.
    **flat
        Flat aliases of the role fields (``estimator``, ``prior_mean``, ``prior_sd``,
        ``n_points``, ``theta_range``, ``start_theta``, ``start_spread``,
        ``start_randomesque``, ``selector``, ``randomesque``, ``n_strata``, ``exposure``,
        ``exposure_params``, ``max_exposure_rate``, ``content``, ``content_proportions``,
        ``enemies``, ``pretest_count``, ``pretest_first``, ``pretest_last``,
        ``min_items``, ``max_items``, ``stop_se``, ``cut_scores``, ``classification``,
        ``sprt_delta``, ``sprt_alpha``, ``sprt_beta``, ``ci_level``, ``stop_combine``),
        applied over the role configurations.

    Raises
    ------
    InvalidConfigError
        Listing every problem.

    Examples
    --------
    >>> config = CATConfig(stop_se=0.25, max_items=30)
    >>> config.stopping.max_items, config.stop_se
    (30, 0.25)
    >>> CATConfig.from_dict(config.to_dict()) == config
    True
    """

    ability: AbilityConfig
    start: StartConfig
    selection: SelectionConfig
    exposure_control: ExposureConfig
    constraints: ConstraintsConfig
    stopping: StoppingConfig
    show_results: bool
    mode: str
    feedback: str

    def __init__(
        self,
        *,
        ability: AbilityConfig | None = None,
        start: StartConfig | None = None,
        selection: SelectionConfig | None = None,
        exposure_control: ExposureConfig | None = None,
        constraints: ConstraintsConfig | None = None,
        stopping: StoppingConfig | None = None,
        show_results: bool = True,
        mode: str = "secure",
        feedback: str = "none",
        **flat: Any,
    ) -> None:
        given = {"ability": ability, "start": start, "selection": selection,
                 "exposure_control": exposure_control, "constraints": constraints,
                 "stopping": stopping}  # fmt: skip
        roles = {k: (v if v is not None else ROLES[k]()) for k, v in given.items()}
        problems: list[str] = []
        if flat:
            sections = {k: _as_fields(v) for k, v in roles.items()}
            unknown = [k for k in flat if k not in _legacy.ALIASES and k not in DELIVERY]
            problems += [f"unknown key {k!r}" for k in unknown]
            top = {"show_results": show_results}
            _legacy.apply_flat(sections, top, {k: v for k, v in flat.items() if k not in unknown},
                               problems)  # fmt: skip
            show_results = top["show_results"]
            roles = {k: ROLES[k](**v) for k, v in sections.items()}
        for name, value in roles.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "show_results", show_results)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "feedback", feedback)
        problems += _normalise(self)
        problems += _problems(self)
        if problems:
            raise InvalidConfigError(problems)
        parts = tuple(getattr(self, k) for k in ROLES)
        object.__setattr__(self, "_hash", hash((*parts, self.show_results, mode, feedback)))

    def __hash__(self) -> int:
        # computed once: the engine looks its cached plan up by configuration at every step
        return self._hash

    # ------------------------------------------------------------------------ checking
    def problems(self, bank: ItemBank | None = None) -> list[str]:
        """Problems of this (valid) configuration against ``bank`` (item ids, areas)."""
        if bank is None:
            return []
        return bank_problems(bank, self.exposure_control, self.constraints, self.mode)

    # --------------------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-ready dict; ``CATConfig.from_dict(config.to_dict()) == config``."""
        a, s, sel, e, c, st = (self.ability, self.start, self.selection,
                               self.exposure_control, self.constraints, self.stopping)  # fmt: skip
        return {
            "format": FORMAT,
            "ability": {**_as_fields(a), "theta_range": list(a.theta_range)},
            "start": _as_fields(s),
            "selection": {
                "method": sel.method,
                "randomesque": sel.randomesque,
                "params": dict(sel.params),
            },
            "exposure_control": {
                "method": e.method,
                "params": dict(e.params),
                "max_rate": e.max_rate,
            },
            "constraints": {
                **_as_fields(c),
                "content": {area: {"min": lo, "max": hi} for area, lo, hi in c.content},
                "content_proportions": dict(c.content_proportions),
            },
            "stopping": {
                "min_items": st.min_items,
                "max_items": st.max_items,
                "rules": [{"name": n, **dict(p)} for n, p in st.rules],
                "combine": st.combine,
                "cut_scores": list(st.cut_scores),
            },
            "show_results": self.show_results,
            "mode": self.mode,
            "feedback": self.feedback,
        }

    def to_flat(self) -> dict[str, Any]:
        """The flat form: every ``zapcat-cat-config/1`` key.

        Nested sections are added only for what that form cannot say (a selector's own
        parameters, rules added since); ``from_dict`` reads it back to an equal config.
        """
        return _legacy.to_flat(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], bank: ItemBank | None = None) -> CATConfig:
        """Build and validate a configuration from a (JSON) mapping.

        Parameters
        ----------
        data : mapping
            The nested form of :meth:`to_dict` (sections may be partial), the flat form of
            earlier versions, or both (flat keys apply over the sections); missing keys
            take defaults.
        bank : ItemBank, optional
            Also check item ids, content areas and pretest items against this bank.

        Raises
        ------
        InvalidConfigError
            Listing every problem at once (unknown keys, wrong types, non-finite numbers,
            out-of-range values, references to the bank).

        Examples
        --------
        >>> data = {"selector": "kl", "content": {"loops": {"min": 2, "max": 5}}}
        >>> CATConfig.from_dict(data).content
        (('loops', 2, 5),)
        >>> CATConfig.from_dict({"stopping": {"max_items": 12}}).max_items
        12
        """
        if not isinstance(data, Mapping):
            raise InvalidConfigError(
                [f"configuration must be a mapping, got {type(data).__name__}"]
            )
        problems: list[str] = []
        fmt = data.get("format")
        if fmt is not None and fmt not in (FORMAT, _legacy.FORMAT):
            problems.append(f"unknown configuration format {fmt!r} (expected {FORMAT!r})")
        sections = {k: _as_fields(v()) for k, v in ROLES.items()}
        top: dict[str, Any] = dict(DELIVERY)
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if key == "format":
                continue
            if key in ("mode", "feedback"):
                top[key] = value
            elif key in ROLES:
                _legacy.read_section(key, value, sections[key], problems)
            elif key in _legacy.ALIASES or key == "show_results":
                flat[key] = value
            else:
                problems.append(f"unknown key {key!r}")
        _legacy.apply_flat(sections, top, flat, problems)
        roles = {k: ROLES[k](**v) for k, v in sections.items()}
        try:
            config = cls(**roles, **top)
        except InvalidConfigError as error:
            problems += list(error.problems)
            config = None
        if bank is not None:
            problems += bank_problems(bank, roles["exposure_control"], roles["constraints"],
                                      top["mode"] if top["mode"] in MODES else "secure")
        if problems or config is None:
            raise InvalidConfigError(problems)
        return config

    def replace(self, **changes: Any) -> CATConfig:
        """A copy with some fields changed (role configurations or flat aliases; validated).

        Examples
        --------
        >>> CATConfig().replace(selector="kl", max_items=20).selection.method
        'kl'
        """
        roles = {k: changes.pop(k, getattr(self, k)) for k in ROLES}
        top = {k: changes.pop(k, getattr(self, k)) for k in DELIVERY}
        return CATConfig(**roles, **top, **changes)


def _as_fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _normalise(config: CATConfig) -> list[str]:
    """Read the parameters the selector and the stopping rules declare (defaults filled)."""
    out: list[str] = []
    sel, st = config.selection, config.stopping
    if sel.method in SELECTORS:
        params = read_params(f"selection.params ({sel.method})",
                             SELECTORS.get(sel.method).params, dict(sel.params), out)  # fmt: skip
        object.__setattr__(config, "selection", replace(sel, params=params))
    rules = []
    for name, params in st.rules:
        if name in STOP_RULES:
            aliases = {p: k for k, (r, p) in _legacy.RULE_PARAMS.items() if r == name}
            params = read_params(f"stopping.rules.{name}", STOP_RULES.get(name).params,
                                 dict(params), out, aliases)  # fmt: skip
        rules.append((name, params))
    object.__setattr__(config, "stopping", replace(st, rules=tuple(rules)))
    return out


def _problems(config: CATConfig) -> list[str]:
    """Every problem of a configuration: each role's, then across roles."""
    stopping = config.stopping
    return [
        *config.ability.problems(),
        *config.start.problems(config.ability.theta_range),
        *config.selection.problems(),
        *config.exposure_control.problems(),
        *stopping.problems(),
        *config.constraints.problems(stopping.max_items),
        *_delivery_problems(config),
    ]


def _delivery_problems(config: CATConfig) -> list[str]:
    """Problems of ``show_results``, ``mode`` and ``feedback`` (alone and together)."""
    out = []
    mode, feedback = config.mode, config.feedback
    if mode not in MODES:
        out.append(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if feedback not in FEEDBACK:
        out.append(f"feedback must be one of {', '.join(FEEDBACK)}, got {feedback!r}")
        return out
    if feedback == "item" and mode != "practice":
        out.append(f"feedback: 'item' shows whether each answer was right and the item's "
                   f"explanation, which only practice items may disclose; set mode: "
                   f"'practice' (a test of items of status 'practice') or feedback: "
                   f"'progress' (this test's mode is {mode!r})")  # fmt: skip
    if feedback != "none" and config.show_results is False:
        out.append(f"feedback: {feedback!r} shows the learner's current level and interval, "
                   f"which show_results: false hides; set show_results: true or feedback: "
                   f"'none'")  # fmt: skip
    if mode == "practice" and config.constraints.pretest_count:
        out.append(f"mode: 'practice' with pretest_count {config.constraints.pretest_count}: "
                   f"a practice test gives only practice items, and pretest items are secure "
                   f"(its responses never reach calibration); set pretest_count to 0")  # fmt: skip
    return out


def pool_status(mode: str) -> str:
    """The status of the items a test of ``mode`` scores (``practice`` or ``operational``)."""
    return "practice" if mode == "practice" else "operational"


def bank_problems(
    bank: ItemBank, exposure: ExposureConfig, c: ConstraintsConfig, mode: str = "secure"
) -> list[str]:
    """Problems of configuration values that refer to a bank (item ids, areas, statuses).

    A test of ``mode`` scores only items of :func:`pool_status` (a practice test never a
    secure item, a secure test never a practice item), so its bank must have some.
    """
    out = []
    status = pool_status(mode)
    for item_id, _ in exposure.params:
        if item_id not in bank:
            out.append(f"exposure_params: unknown item id {item_id!r} in bank {bank.name!r}")
    columns = bank.columns()  # per-item metadata as arrays (no loop over items)
    known = set(columns.areas)
    for area in [a for a, _, _ in c.content] + [a for a, _ in c.content_proportions]:
        if area not in known:
            out.append(f"content area {area!r} is not used by any item of bank {bank.name!r}")
    in_pool = columns.has_status(status)
    if not in_pool.any():
        if mode == "practice":
            out.append(f"bank {bank.name!r} has no practice item: a practice test gives only "
                       f"items of status 'practice' (items that may be disclosed)")  # fmt: skip
        else:
            n = int(columns.has_status("practice").sum())
            hint = (f" (its {n} practice items serve only mode: 'practice' tests)" if n else "")
            out.append(f"bank {bank.name!r} has no operational item{hint}")
    if c.pretest_count and not columns.has_status("pretest").any():
        out.append(f"pretest_count is {c.pretest_count} but bank {bank.name!r} has no pretest item")
    membership = columns.membership("areas") if c.content else None
    for area, a_min, _ in c.content:
        avail = 0
        if area in known:
            avail = int((membership[:, columns.areas.index(area)] & in_pool).sum())
        if known and area in known and avail < a_min:
            out.append(f"content[{area!r}] needs {a_min} items, bank has {avail}")
    return out


for _name in _legacy.ALIASES:
    setattr(CATConfig, _name, property(lambda self, n=_name: _legacy.flat_value(self, n),
                                       doc=f"Flat alias ``{_name}`` of a role field."))  # fmt: skip
del _name

__all__ = ["DELIVERY", "FEEDBACK", "FORMAT", "MODES", "CATConfig", "bank_problems",
           "pool_status"]  # fmt: skip
