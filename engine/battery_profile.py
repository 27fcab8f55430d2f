"""The profile of a battery: per-skill scores and levels, strengths and areas to improve.

For ``K`` skills with estimates ``theta_j`` and standard errors ``se_j`` (errors taken as
independent between skills), the difference of skill ``j`` from the learner's own mean
``d_j = theta_j - mean(theta)`` has

    Var(d_j) = (1 - 1/K)**2 se_j**2 + sum_{i != j} se_i**2 / K**2

(the mean contains ``theta_j`` itself). Skill ``j`` is a strength when
``d_j > z sqrt(Var(d_j))``, an area for improvement when ``d_j < -z sqrt(Var(d_j))``; a
profile with neither is even. ``status`` compares the skill's interval with the cut that
matters: the section's ``target_level`` when it names one, otherwise the cut of the next
level up from the learner's level (at the top level, the top level's own cut): ``met``
when the interval lies above it, ``not_met`` below it, ``near`` when it contains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from item_banks.battery import Section

INTERVAL_LEVEL = 0.95
"""Coverage of the per-skill interval ``theta +- z_{0.975} se``."""


def difference_se(se: NDArray[np.float64]) -> NDArray[np.float64]:
    """SE of each skill's difference from the mean over skills, shape ``(..., K)``."""
    se = np.asarray(se, dtype=float)
    k = se.shape[-1]
    var = np.square(se)
    total = var.sum(axis=-1, keepdims=True)
    return np.sqrt((1 - 1 / k) ** 2 * var + (total - var) / k**2)


def labels(
    theta: NDArray[np.float64], se: NDArray[np.float64], z: float
) -> NDArray[np.int8]:
    """``+1`` strength, ``-1`` area for improvement, ``0`` neither; shape ``(..., K)``."""
    theta = np.asarray(theta, dtype=float)
    if theta.shape[-1] < 2:
        return np.zeros(theta.shape, dtype=np.int8)
    d = theta - theta.mean(axis=-1, keepdims=True)
    bound = z * difference_se(se)
    return (np.where(d > bound, 1, 0) - np.where(d < -bound, 1, 0)).astype(np.int8)


def level_of(section: Section, theta: float) -> int | None:
    """Index of the level containing ``theta`` (``None`` without levels)."""
    if not section.levels:
        return None
    return int(np.searchsorted(np.asarray(section.cuts), theta, side="right"))


def status_of(section: Section, theta: float, lo: float, hi: float) -> str | None:
    """``met`` / ``near`` / ``not_met`` against the cut that matters (module docstring)."""
    cuts = section.cuts
    if not cuts:
        return None
    if section.target_level is not None:
        names = [lv.name for lv in section.levels]
        cut = section.levels[names.index(section.target_level)].theta_cut
    else:
        level = level_of(section, theta) or 0
        cut = cuts[min(level, len(cuts) - 1)]
    if lo > cut:
        return "met"
    if hi < cut:
        return "not_met"
    return "near"


def profile(
    sections: Sequence[Section],
    theta: Sequence[float],
    se: Sequence[float],
    n_items: Sequence[int],
    *,
    z: float,
    stop_reason: str | None,
) -> dict[str, Any]:
    """The profile JSON of one learner.

    Parameters
    ----------
    sections : sequence of Section, length K
    theta, se : sequence of float, length K
    n_items : sequence of int, length K
        Scored items per skill.
    z : float
        Multiplier for strengths and areas for improvement.
    stop_reason : str or None

    Returns
    -------
    dict
        ``skills`` (``skill_id, theta, se, interval, score, score_interval, level,
        status, n_items``), ``strengths``, ``areas_for_improvement``,
        ``profile_is_even``, ``n_items``, ``stop_reason``.
    """
    t = np.asarray(theta, dtype=float)
    s = np.asarray(se, dtype=float)
    half = float(norm.ppf(0.5 + INTERVAL_LEVEL / 2))
    lab = labels(t, s, z)
    d = t - t.mean()
    skills = []
    for j, sec in enumerate(sections):
        lo, hi = float(t[j] - half * s[j]), float(t[j] + half * s[j])
        level = level_of(sec, t[j])
        skills.append({
            "skill_id": sec.skill_id,
            "theta": float(t[j]),
            "se": float(s[j]),
            "interval": [lo, hi],
            "score": sec.scale.score(t[j]),
            "score_interval": sorted([sec.scale.score(lo), sec.scale.score(hi)]),
            "level": None if level is None else sec.levels[level].name,
            "status": status_of(sec, float(t[j]), lo, hi),
            "n_items": int(n_items[j]),
        })  # fmt: skip
    order = np.argsort(-d, kind="stable")
    strengths = [sections[j].skill_id for j in order if lab[j] > 0]
    areas = [sections[j].skill_id for j in order[::-1] if lab[j] < 0]
    return {
        "skills": skills,
        "strengths": strengths,
        "areas_for_improvement": areas,
        "profile_is_even": not strengths and not areas,
        "n_items": int(sum(int(v) for v in n_items)),
        "stop_reason": stop_reason,
    }


__all__ = ["INTERVAL_LEVEL", "difference_se", "labels", "level_of", "profile", "status_of"]
