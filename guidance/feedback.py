"""Immediate feedback after each answer: the learner's progress, and the item's own.

An assessment's configuration chooses the feedback of its replies (``feedback`` of
:class:`engine.config.CATConfig`): ``"none"``; ``"progress"``, what the learner knows of
the skill just answered (:func:`progress`); ``"item"``, in practice tests only, also
whether the answer was right and the item's explanation (:func:`item_feedback`). Neither
ever shows an item parameter, an answer key of an item not yet answered, or another
skill's estimate.

Progress is reported on the skill's reporting scale as the score with its 95% interval
``theta +- z_{0.975} se`` (the same interval as the battery profile,
:data:`engine.battery_profile.INTERVAL_LEVEL`) and the level band containing the
estimate, with the band's bounds on the same scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from engine.battery_profile import INTERVAL_LEVEL
from item_banks.bank import Item
from item_banks.battery import Scale

IDENTITY = Scale(intercept=0.0, slope=1.0, decimals=2)
"""Reporting scale of a single test (the ability scale, two decimals)."""

_HALF = float(norm.ppf(0.5 + INTERVAL_LEVEL / 2))
"""Half-width of the interval in SEs (1.96)."""


def progress(
    *,
    skill_id: str,
    n_answered: int,
    theta: float,
    se: float,
    cuts: Sequence[float] = (),
    level_names: Sequence[str] | None = None,
    scale: Scale = IDENTITY,
    theta_range: tuple[float, float] = (-np.inf, np.inf),
) -> dict[str, Any]:
    """The progress block of a reply: the skill, its items answered, level and interval.

    Parameters
    ----------
    skill_id : str
        The skill the answered item measures (a battery section; a single test's bank).
    n_answered : int
        Items answered in that skill so far, ``>= 1``.
    theta, se : float
        The skill's current estimate and its standard error (posterior mean and SD
        under EAP), ``se > 0``.
    cuts : sequence of float, increasing
        Ability cuts between level bands (``len(cuts) + 1`` bands); empty: no bands.
    level_names : sequence of str, optional
        Name of each band, length ``len(cuts) + 1`` (default: none).
    scale : Scale
        Reporting scale of scores, interval and band bounds.
    theta_range : (float, float), optional
        The estimator's ability range: the interval is clipped to it (an ML estimate
        can have an infinite SE).

    Returns
    -------
    dict
        ``skill_id, n_answered, score, score_interval [lo, hi], interval_level`` and
        ``level``: ``{index (0 = lowest band), name, from, to}`` (``from`` / ``to`` the
        band's bounds on the scale, ``None`` where open) or ``None`` without bands.

    Examples
    --------
    >>> out = progress(skill_id="coding", n_answered=3, theta=0.2, se=0.5, cuts=[0.0])
    >>> out["score_interval"], out["level"]["index"]
    ([-0.78, 1.18], 1)
    """
    lo = max(theta - _HALF * se, theta_range[0])
    hi = min(theta + _HALF * se, theta_range[1])
    out: dict[str, Any] = {
        "skill_id": skill_id,
        "n_answered": int(n_answered),
        "score": scale.score(theta),
        "score_interval": sorted([scale.score(lo), scale.score(hi)]),
        "interval_level": INTERVAL_LEVEL,
        "level": None,
    }
    if len(cuts):
        k = int(np.searchsorted(np.asarray(cuts, dtype=float), theta, side="right"))
        out["level"] = {
            "index": k,
            "name": None if level_names is None else level_names[k],
            "from": None if k == 0 else scale.score(cuts[k - 1]),
            "to": None if k == len(cuts) else scale.score(cuts[k]),
        }
    return out


def item_feedback(item: Item, response: int) -> dict[str, Any]:
    """The item block of a practice reply: right or not, the category, the explanation.

    Parameters
    ----------
    item : Item
        The item just answered (a practice item: its key may be disclosed).
    response : int
        The category recorded, ``0 .. item.n_categories - 1``.

    Returns
    -------
    dict
        ``correct`` (dichotomous items: category 1 is the keyed answer; ``None`` for
        polytomous ones), ``category``, ``max_category`` and ``explanation`` (the bank's
        text for that category, ``None`` when it has none).

    Examples
    --------
    >>> q = Item("p1", "2pl", {"a": 1.0, "b": 0.0}, status="practice",
    ...          feedback={0: "Not quite: a loop runs while its condition holds."})
    >>> item_feedback(q, 0)["correct"], item_feedback(q, 1)["explanation"]
    (False, None)
    """
    k = item.n_categories
    return {
        "correct": (response == 1) if k == 2 else None,
        "category": int(response),
        "max_category": k - 1,
        "explanation": item.feedback.get(int(response)),
    }


def reply_feedback(
    level: str, progress_block: dict[str, Any], item: Item, response: int
) -> dict[str, Any] | None:
    """The ``feedback`` of a reply at ``level`` (``None`` for ``"none"``)."""
    if level == "none":
        return None
    out: dict[str, Any] = {"progress": progress_block}
    if level == "item":
        out["item"] = {"item_id": item.item_id, **item_feedback(item, response)}
    return out


__all__ = ["IDENTITY", "item_feedback", "progress", "reply_feedback"]
