"""Gap analysis against a target role and ranked micro-credential recommendations.

For skill ``s`` with posterior ``N(theta_s, se_s**2)`` (the profile's estimate and SE) and
the role's required level with cut ``c_s``, the probability that the level is met is
``p_s = Phi((theta_s - c_s) / se_s)``. The skill is ``met`` when ``p_s >= 0.9``, a ``gap``
when ``p_s <= 0.1`` and ``uncertain`` otherwise. For an uncertain skill the number of
extra items that would likely settle it is the number of the bank's most informative
items at ``theta_s`` (not already given) whose information, added to ``1/se_s**2``,
brings ``|theta_s - c_s| / se`` to ``z_{0.9}`` -- offered as "extend this section".

A credential *closes* a gap (a skill whose status is ``gap``) when it develops that skill
up to at least the required level; an uncertain skill gets "extend this section", not a
credential on a guess. Its score is ``sum importance_s * (1 - p_s)`` over the skills it
closes (the importance-weighted probability that the gaps are real); credentials are
ranked by score, then by fewer hours, then by id. A prerequisite (a skill at a level)
is *probably not met* when ``P(met) < 0.5``; such a credential is replaced by the best
credential that
develops the prerequisite (and whose own prerequisites are met), or, when there is none,
listed under ``not_ready``. A prerequisite on a skill the battery does not assess is
taken as met and said so.

Monotonicity: raising a theta never raises a ``1 - p_s``, so the set of credentials that
close a gap (``targets``, reported with every recommendation as ``for_credential``) never
grows. The credential to take *now* may change when a raise meets a prerequisite (the
prerequisite course gives way to the course itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from guidance.catalogue import Catalogue, Credential, check_against_levels
from item_banks.errors import ZapcatError

MET = 0.9
"""``P(required level met)`` at or above which a skill is ``met``."""
GAP = 0.1
"""``P(required level met)`` at or below which a skill is a ``gap``."""
PREREQ_MET = 0.5
"""A prerequisite is probably not met below this probability."""
_Z = float(norm.ppf(MET))


class GuidanceError(ZapcatError):
    """A profile cannot be analysed against this catalogue or battery."""

    code = "invalid_guidance_request"


Levels = Mapping[str, Sequence[tuple[str, float | None]]]
"""Per skill, its levels in order as ``(name, theta_cut)`` (the first cut is ``None``)."""


def levels_from_sections(sections: Sequence[Any]) -> dict[str, list[tuple[str, float | None]]]:
    """``skill_id -> [(level name, theta cut), ...]`` from a battery's sections."""
    return {s.skill_id: [(lv.name, lv.theta_cut) for lv in s.levels] for s in sections}


def _cut(levels: Levels, skill: str, level: str) -> float:
    for name, cut in levels[skill]:
        if name == level:
            return -np.inf if cut is None else float(cut)
    raise GuidanceError(f"level {level!r} is not a level of skill {skill!r}")


def _rank(levels: Levels, skill: str, level: str | None) -> int:
    names = [n for n, _ in levels[skill]]
    return -1 if level is None else names.index(level)


def p_met(theta: float, se: float, cut: float) -> float:
    """``P(theta_true >= cut)`` under the normal posterior ``N(theta, se**2)``."""
    if cut == -np.inf:
        return 1.0
    return float(norm.sf(cut, loc=theta, scale=se))


def status_of(p: float) -> str:
    """``met`` (p >= 0.9), ``gap`` (p <= 0.1) or ``uncertain``."""
    return "met" if p >= MET else "gap" if p <= GAP else "uncertain"


def items_to_settle(theta: float, se: float, cut: float, information: np.ndarray
                    ) -> int | None:
    """Extra items (most informative first) that would settle the skill at ``theta``.

    Parameters
    ----------
    theta, se : float
        Current estimate and SE.
    cut : float
        The required level's cut.
    information : ndarray, shape (n,)
        Fisher information at ``theta`` of each item that could still be given.

    Returns
    -------
    int or None
        ``None`` when the remaining items cannot settle it (or the estimate sits on the cut).
    """
    d = abs(theta - cut)
    if d == 0:
        return None
    needed = (_Z / d) ** 2 - 1.0 / se**2
    if needed <= 0:
        return 0
    cum = np.cumsum(np.sort(np.asarray(information, dtype=float))[::-1])
    k = int(np.searchsorted(cum, needed, side="left"))
    return None if k >= cum.size else k + 1


def _skills(profile: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    try:
        return {s["skill_id"]: (float(s["theta"]), float(s["se"])) for s in profile["skills"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise GuidanceError(f"not a profile: every skill needs skill_id, theta, se ({exc})"
                            ) from None


def gap_analysis(
    profile: Mapping[str, Any],
    levels: Levels,
    requires: Sequence[Any],
    *,
    information: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per required skill: ``P(required level met)``, status and items that would settle it.

    Parameters
    ----------
    profile : mapping
        A battery profile (``skills[].skill_id, theta, se``).
    levels : mapping
        See :data:`Levels`.
    requires : sequence of Requirement
        The role's requirements (skill, level, importance 1-5).
    information : mapping, optional
        ``skill_id -> callable(theta) -> ndarray (n,)``: information at ``theta`` of the
        items that could still be given in that skill's section.

    Returns
    -------
    list of dict
        ``skill_id, required_level, importance, p_met, status, interval`` and, for
        uncertain skills, ``extend_section: {"items": int | None, "skill_id"}``.
    """
    skills = _skills(profile)
    out = []
    for req in requires:
        if req.skill_id not in skills:
            raise GuidanceError(f"skill {req.skill_id!r} required by the role is not in the "
                                f"profile (skills: {', '.join(skills)})")
        theta, se = skills[req.skill_id]
        cut = _cut(levels, req.skill_id, req.level)
        p = p_met(theta, se, cut)
        row: dict[str, Any] = {
            "skill_id": req.skill_id, "required_level": req.level,
            "importance": req.importance, "p_met": round(p, 4), "status": status_of(p),
        }
        if row["status"] == "uncertain":
            info = information.get(req.skill_id) if information else None
            n = items_to_settle(theta, se, cut, info(theta)) if info is not None else None
            row["extend_section"] = {
                "skill_id": req.skill_id, "items": n,
                "message": (f"Extend this section by about {n} item{'s' if n != 1 else ''} "
                            "to settle it" if n is not None else
                            "Not settled by the remaining items: retest later"),
            }
        out.append(row)
    return out


def _closes(cred: Credential, levels: Levels, open_gaps: Mapping[str, dict]) -> list[str]:
    out = []
    for d in cred.develops:
        g = open_gaps.get(d.skill_id)
        if g and _rank(levels, d.skill_id, d.to_level) >= _rank(
                levels, d.skill_id, g["required_level"]):
            out.append(d.skill_id)
    return sorted(set(out))


def _prereq_state(cred: Credential, skills: Mapping, levels: Levels) -> list[dict[str, Any]]:
    out = []
    for p in cred.prerequisites:
        if p.skill_id not in skills or p.skill_id not in levels:
            out.append({"skill_id": p.skill_id, "level": p.level, "p_met": None,
                        "met": True, "note": "not assessed: taken as met"})
            continue
        theta, se = skills[p.skill_id]
        pm = p_met(theta, se, _cut(levels, p.skill_id, p.level))
        out.append({"skill_id": p.skill_id, "level": p.level, "p_met": round(pm, 4),
                    "met": pm >= PREREQ_MET})
    return out


def _replacement(cred: Credential, catalogue: Catalogue, skills: Mapping, levels: Levels,
                 seen: frozenset[str]) -> Credential | None:
    """The best credential, prerequisites met, developing ``cred``'s first unmet prerequisite."""
    for p in _prereq_state(cred, skills, levels):
        if p["met"]:
            continue
        options = []
        for c in catalogue.credentials:
            if c.credential_id in seen:
                continue
            for d in c.develops:
                if d.skill_id == p["skill_id"] and _rank(levels, d.skill_id, d.to_level) >= \
                        _rank(levels, d.skill_id, p["level"]):
                    options.append(c)
                    break
        for c in sorted(options, key=lambda c: (c.hours or 0.0, c.credential_id)):
            if all(q["met"] for q in _prereq_state(c, skills, levels)):
                return c
            deeper = _replacement(c, catalogue, skills, levels, seen | {c.credential_id})
            if deeper is not None:
                return deeper
        return None
    return cred


def recommend(
    profile: Mapping[str, Any],
    levels: Levels,
    catalogue: Catalogue,
    role_id: str,
    *,
    information: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Gap analysis and ranked recommendations for ``role_id``.

    Returns
    -------
    dict
        ``role {role_id, title}``, ``gaps`` (:func:`gap_analysis`), ``recommendations``
        (ranked: ``credential_id, title, provider, url, hours, cost, currency, score,
        closes [{skill_id, status, p_gap}], for_credential, prerequisites``),
        ``not_ready`` (credentials whose prerequisites cannot be reached),
        ``extend_sections`` (uncertain skills) and ``summary``.
    """
    role = catalogue.role(role_id)
    check_against_levels(catalogue, {k: [n for n, _ in v] for k, v in levels.items()},
                         role_id=role_id)
    skills = _skills(profile)
    gaps = gap_analysis(profile, levels, role.requires, information=information)
    open_gaps = {g["skill_id"]: g for g in gaps if g["status"] == "gap"}
    targets = []
    for cred in catalogue.credentials:
        closes = _closes(cred, levels, open_gaps)
        if not closes:
            continue
        score = sum(open_gaps[s]["importance"] * (1 - open_gaps[s]["p_met"]) for s in closes)
        targets.append((round(score, 6), cred, closes))
    targets.sort(key=lambda t: (-t[0], t[1].hours or 0.0, t[1].credential_id))
    recs: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    not_ready = []
    for score, cred, closes in targets:
        now = _replacement(cred, catalogue, skills, levels, frozenset({cred.credential_id}))
        if now is None:
            not_ready.append({"credential_id": cred.credential_id, "title": cred.title,
                              "prerequisites": _prereq_state(cred, skills, levels)})
            continue
        closes_rows = [{"skill_id": s, "status": open_gaps[s]["status"],
                        "p_gap": round(1 - open_gaps[s]["p_met"], 4)} for s in closes]
        if now.credential_id in by_id:
            by_id[now.credential_id]["for_credential"].append(cred.credential_id)
            continue
        entry = {
            "rank": len(recs) + 1, "credential_id": now.credential_id, "title": now.title,
            "provider": now.provider, "url": now.url, "hours": now.hours, "cost": now.cost,
            "currency": now.currency, "score": score, "closes": closes_rows,
            "for_credential": [cred.credential_id],
            "prerequisites": _prereq_state(now, skills, levels),
            "why": _why(cred, now, closes_rows),
        }
        by_id[now.credential_id] = entry
        recs.append(entry)
    extend = [g["extend_section"] for g in gaps if "extend_section" in g]
    n_gap = sum(g["status"] == "gap" for g in gaps)
    n_unc = sum(g["status"] == "uncertain" for g in gaps)
    return {
        "role": {"role_id": role.role_id, "title": role.title, "onet_soc": role.onet_soc},
        "catalogue": {"name": catalogue.name, "version": catalogue.version},
        "gaps": gaps,
        "recommendations": recs,
        "not_ready": not_ready,
        "extend_sections": extend,
        "summary": {"met": len(gaps) - n_gap - n_unc, "gap": n_gap, "uncertain": n_unc},
    }


def _why(target: Credential, now: Credential, closes: list[dict]) -> str:
    parts = "; ".join(f"{c['skill_id']} ({round(100 * c['p_gap'])}% likely below the "
                      "required level)" for c in closes)
    if now.credential_id != target.credential_id:
        return (f"Take it first: it prepares the prerequisites (probably not met yet) of "
                f"{target.title!r} ({target.credential_id}), which closes the gap in {parts}.")
    return f"Closes the gap in {parts}."


__all__ = [
    "GAP",
    "MET",
    "PREREQ_MET",
    "GuidanceError",
    "Levels",
    "gap_analysis",
    "information_from_banks",
    "items_to_settle",
    "levels_from_sections",
    "p_met",
    "recommend",
    "status_of",
]


def information_from_banks(banks: Mapping[str, Any],
                           used: Mapping[str, Sequence[str]] | None = None, *,
                           status: str = "operational") -> dict[str, Any]:
    """``skill_id -> callable(theta)``: information of the items a further test could give.

    Those are the items of ``status`` (``"operational"`` for a secure test, ``"practice"``
    for a practice test, :func:`engine.config.pool_status`) not in ``used[skill_id]``.
    """
    out = {}
    for skill, bank in banks.items():
        skip = set((used or {}).get(skill, ()))
        idx = np.array([i for i, item in enumerate(bank.items)
                        if item.item_id not in skip and item.status == status],
                       dtype=np.intp)  # fmt: skip

        def info(theta: float, bank: Any = bank, idx: np.ndarray = idx) -> np.ndarray:
            if idx.size == 0:
                return np.zeros(0)
            return bank.information([float(theta)], idx)[0]
        out[skill] = info
    return out
