"""The learner's skill-gap report: JSON and one self-contained HTML page.

Built from a battery profile, the battery's sections (names, scales, levels) and,
optionally, the recommendations of :func:`guidance.gaps.recommend`. Scores are on each
skill's reporting scale, always with their 95% interval; the report never carries item
ids, item content, item parameters or a raw theta.

Retesting (after LinkedIn's and Pluralsight's retake windows): a skill whose interval
straddles its cut (``near``) is worth settling now by extending its section, otherwise a
retest is suggested after :data:`RETEST_DAYS_AFTER_LEARNING` days of learning for skills
below their target and :data:`RETEST_DAYS` days for the rest.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

FORMAT = "zapcat-report/1"
RETEST_DAYS = 180
RETEST_DAYS_AFTER_LEARNING = 30
_STATUS_TEXT = {"met": "Target met", "near": "Near the target", "not_met": "Below the target",
                None: "No target"}


def _bands(sec: Any) -> list[dict[str, Any]]:
    lo, hi = sec.scale.range if sec.scale.range else (sec.scale.score(-4), sec.scale.score(4))
    if not sec.levels:
        return [{"level": "", "from": lo, "to": hi, "descriptor": ""}]
    cuts = [sec.scale.score(lv.theta_cut) for lv in sec.levels[1:]]
    edges = [lo, *cuts, hi]
    return [{"level": lv.name, "from": edges[i], "to": edges[i + 1],
             "descriptor": lv.descriptor} for i, lv in enumerate(sec.levels)]


def build_report(
    profile: Mapping[str, Any],
    sections: Sequence[Any],
    *,
    title: str = "Your skills profile",
    recommendations: Mapping[str, Any] | None = None,
    practice: bool = False,
) -> dict[str, Any]:
    """The report JSON (``zapcat-report/1``) of one learner.

    Parameters
    ----------
    profile : mapping
        The battery profile.
    sections : sequence of Section
        The battery's sections, in the profile's order.
    recommendations : mapping, optional
        The output of :func:`guidance.gaps.recommend` for the learner's target role.
    practice : bool
        Whether the session was a practice session (said on the report).
    """
    by_id = {s["skill_id"]: s for s in profile["skills"]}
    names = {sec.skill_id: sec.name for sec in sections}
    skills = []
    for sec in sections:
        s = by_id[sec.skill_id]
        target = sec.target_level
        tcut = next((lv.theta_cut for lv in sec.levels if lv.name == target), None)
        skills.append({
            "skill_id": sec.skill_id, "name": sec.name, "esco_uri": sec.esco_uri,
            "score": s["score"], "score_interval": list(s["score_interval"]),
            "scale_range": list(sec.scale.range) if sec.scale.range else None,
            "level": s["level"], "bands": _bands(sec),
            "target": None if tcut is None else {"level": target,
                                                 "score": sec.scale.score(tcut)},
            "status": s["status"], "status_text": _STATUS_TEXT.get(s["status"], s["status"]),
            "n_items": s["n_items"],
        })  # fmt: skip
    even = bool(profile["profile_is_even"])
    steps: list[dict[str, Any]] = []
    if recommendations:
        for g in recommendations.get("extend_sections", []):
            steps.append({"kind": "extend_section", "skill": names.get(g["skill_id"]),
                          "items": g["items"], "why": g["message"]})
        for r in recommendations.get("recommendations", []):
            steps.append({"kind": "credential", "credential_id": r["credential_id"],
                          "title": r["title"], "provider": r["provider"], "url": r["url"],
                          "hours": r["hours"], "why": r["why"]})
    retest = []
    for sk in skills:
        if sk["status"] == "near":
            retest.append({"skill": sk["name"], "when": "now",
                           "why": "your interval straddles the target: a few more items "
                                  "would settle it"})
        elif sk["status"] == "not_met":
            retest.append({"skill": sk["name"], "when": f"in {RETEST_DAYS_AFTER_LEARNING} days",
                           "why": "after some learning, to see the progress"})
        else:
            retest.append({"skill": sk["name"], "when": f"in {RETEST_DAYS} days",
                           "why": "to keep the record current"})
    return {
        "format": FORMAT, "title": title, "practice": practice,
        "skills": skills,
        "strengths": [names[s] for s in profile["strengths"]],
        "areas_for_improvement": [names[s] for s in profile["areas_for_improvement"]],
        "profile_is_even": even,
        "n_items": profile["n_items"],
        "role": None if not recommendations else recommendations["role"],
        "gaps": [] if not recommendations else [
            {"skill": names.get(g["skill_id"]), "required_level": g["required_level"],
             "status": g["status"], "p_met": g["p_met"]} for g in recommendations["gaps"]],
        "next_steps": steps,
        "retest": retest,
    }


_COLOURS = ("#f4d6cc", "#f9efc7", "#d3ecd5", "#c9def5", "#e3d7f1")


def _svg(sk: Mapping[str, Any]) -> str:
    w, h, pad = 560, 64, 10
    lo = sk["bands"][0]["from"]
    hi = sk["bands"][-1]["to"]

    def x(v: float) -> float:
        return pad + (w - 2 * pad) * (min(max(v, lo), hi) - lo) / (hi - lo)

    parts = [f'<svg class="figure" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
             f'aria-label="{html.escape(sk["name"])}: score {sk["score"]:g}, interval '
             f'{sk["score_interval"][0]:g} to {sk["score_interval"][1]:g}">']
    for i, b in enumerate(sk["bands"]):
        parts.append(f'<rect x="{x(b["from"]):.1f}" y="8" width="{x(b["to"]) - x(b["from"]):.1f}"'
                     f' height="28" fill="{_COLOURS[i % len(_COLOURS)]}"/>'
                     f'<text x="{(x(b["from"]) + x(b["to"])) / 2:.1f}" y="52" font-size="11" '
                     f'text-anchor="middle">{html.escape(b["level"])}</text>')
    if sk["target"]:
        tx = x(sk["target"]["score"])
        parts.append(f'<line class="target" x1="{tx:.1f}" x2="{tx:.1f}" y1="2" y2="42" '
                     f'stroke="#b00020" stroke-width="2" stroke-dasharray="4 2"/>')
    a, b = sk["score_interval"]
    parts.append(f'<line class="interval" x1="{x(a):.1f}" x2="{x(b):.1f}" y1="22" y2="22" '
                 f'stroke="#1f3a5f" stroke-width="6" stroke-linecap="round"/>'
                 f'<circle class="score" cx="{x(sk["score"]):.1f}" cy="22" r="7" fill="#fff" '
                 f'stroke="#1f3a5f" stroke-width="3"/></svg>')
    return "".join(parts)


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page of the report (inline CSS and SVG, no outside request)."""
    e = html.escape
    rows = []
    for sk in report["skills"]:
        target = (f'target {e(sk["target"]["level"])} ({sk["target"]["score"]:g})'
                  if sk["target"] else "no target")
        rows.append(
            f'<section class="skill" data-skill="{e(sk["skill_id"])}"><h2>{e(sk["name"])}</h2>'
            f'<p><b>{sk["score"]:g}</b> (95% interval {sk["score_interval"][0]:g} to '
            f'{sk["score_interval"][1]:g}) &middot; level {e(str(sk["level"]))} &middot; '
            f'{target} &middot; <span class="status {e(str(sk["status"]))}">'
            f'{e(sk["status_text"])}</span> &middot; {sk["n_items"]} questions</p>'
            f'{_svg(sk)}</section>')
    if report["profile_is_even"]:
        profile_text = ("<p>Your profile is even: no skill stands out from your own average "
                        "by more than the measurement can tell.</p>")
    else:
        profile_text = "".join(
            f"<p><b>{label}:</b> {e(', '.join(items))}</p>"
            for label, items in (("Strengths", report["strengths"]),
                                 ("Areas for improvement", report["areas_for_improvement"]))
            if items)
    steps = []
    for st in report["next_steps"]:
        if st["kind"] == "credential":
            # the address as text, not a link: the page references no outside URL
            where = f' <span class="url">{e(st["url"])}</span>' if st["url"] else ""
            hours = "" if st["hours"] is None else f', {st["hours"]:g} h'
            steps.append(f'<li><b>{e(st["title"])}</b> ({e(st["provider"])}{hours}){where}: '
                         f'{e(st["why"])}</li>')
        else:
            steps.append(f'<li>{e(str(st["skill"]))}: {e(st["why"])}</li>')
    role = report.get("role")
    steps_html = (f'<h2>Next steps{" for " + e(role["title"]) if role else ""}</h2>'
                  + (f'<ol class="steps">{"".join(steps)}</ol>' if steps else
                     "<p>Nothing to add: your target levels are met.</p>" if role else
                     "<p>Choose a target role to get recommendations.</p>"))
    retest = "".join(f'<li>{e(r["skill"])}: {e(r["when"])} ({e(r["why"])})</li>'
                     for r in report["retest"])
    practice = ('<p class="practice">Practice session: this profile is for practice and '
                'earns no credential.</p>' if report.get("practice") else "")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{e(report["title"])}</title><style>'
        "body{font-family:system-ui,sans-serif;max-width:640px;margin:2em auto;color:#222}"
        ".skill{border-top:1px solid #ddd;padding:.4em 0}.status.met{color:#1b5e20}"
        ".status.near{color:#8a6d00}.url{color:#555;font-size:.9em}.status.not_met{color:#b00020}.practice{background:#fff3c4;"
        "padding:.5em}svg.figure{display:block;max-width:100%;height:auto}</style></head><body>"
        f'<h1>{e(report["title"])}</h1>{practice}'
        f'<p>{report["n_items"]} questions. Each bar shows the levels; the line is your 95% '
        "interval, the circle your score, the dashed mark the target.</p>"
        f'{"".join(rows)}<h2>Your profile</h2>{profile_text}{steps_html}'
        f'<h2>When to retest</h2><ul class="retest">{retest}</ul></body></html>')


__all__ = ["FORMAT", "RETEST_DAYS", "RETEST_DAYS_AFTER_LEARNING", "build_report", "render_html"]
