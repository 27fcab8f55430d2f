from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engine.battery import load_battery, respond, result, start
from guidance.catalogue import read_catalogue
from guidance.gaps import information_from_banks, levels_from_sections, recommend
from guidance.report import build_report, render_html
from item_banks.examples.battery_demo import DEMO_BATTERY_PATH, DEMO_CATALOGUE_PATH

PLAN = load_battery(DEMO_BATTERY_PATH)


def demo_learner(theta=(-1.0, 0.8, 0.2), seed=4):
    """A simulated learner (known true thetas) through the demo battery."""
    rng = np.random.default_rng(seed)
    state = start(PLAN, seed=seed)
    while not state.finished:
        k = state.current
        bank = PLAN.banks[k]
        item = state.pending_item
        n = bank[item].n_categories
        p = bank.prob([theta[k]], [bank.index_of(item)])[0, 0, :n]
        state = respond(PLAN, state, item, int(rng.choice(n, p=p / p.sum())))
    return result(PLAN, state)


def demo_report(role="junior-developer"):
    profile = demo_learner()
    recs = recommend(profile, levels_from_sections(PLAN.sections),
                     read_catalogue(DEMO_CATALOGUE_PATH), role,
                     information=information_from_banks(
                         dict(zip(PLAN.skill_ids, PLAN.banks, strict=True))))
    return profile, build_report(profile, PLAN.sections, recommendations=recs)


def test_report_json_has_scores_with_intervals_and_nothing_internal():
    profile, rep = demo_report()
    text = json.dumps(rep)
    for needle in ('"theta"', '"se"', '"params"', '"item_id"', '"interval"'):
        assert needle not in text
    items = {i for bank in PLAN.banks for i in bank.item_ids}
    assert not any(i in text for i in items)
    for sk, ps, sec in zip(rep["skills"], profile["skills"], PLAN.sections, strict=True):
        assert sk["score"] == ps["score"]
        lo, hi = sk["score_interval"]
        assert lo <= sk["score"] <= hi
        # the bands are the levels on the reporting scale: cut -0.3 -> 100 + 15 * -0.3
        assert [b["level"] for b in sk["bands"]] == [lv.name for lv in sec.levels]
        assert sk["bands"][1]["from"] == sec.scale.score(-0.3) == 96
        assert sk["target"] == {"level": "Practitioner", "score": 96}
    assert rep["profile_is_even"] == profile["profile_is_even"]
    if not rep["profile_is_even"]:
        assert rep["strengths"] or rep["areas_for_improvement"]
    assert rep["next_steps"] and rep["retest"]


def test_even_profile_says_so():
    profile = demo_learner(theta=(0.0, 0.0, 0.0), seed=11)
    profile = {**profile, "strengths": [], "areas_for_improvement": [],
               "profile_is_even": True}
    page = render_html(build_report(profile, PLAN.sections))
    assert "Your profile is even" in page
    assert "Choose a target role" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120)


MEASURE = """<script>
const out = [];
for (const svg of document.querySelectorAll('svg.figure')) {
  const r = svg.getBoundingClientRect();
  const parts = ['rect', 'circle.score', 'line.interval', 'line.target'].map(
    s => Array.from(svg.querySelectorAll(s)).filter(e => {
      const b = e.getBoundingClientRect(); return b.width > 0 || b.height > 0; }).length);
  const st = getComputedStyle(svg);
  out.push([r.width, r.height, st.visibility, st.display, ...parts].join(','));
}
const pre = document.createElement('pre'); pre.id = 'measured';
pre.textContent = out.join(';') + '|' + performance.getEntriesByType('resource').length;
document.body.appendChild(pre);
</script>"""


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (.ci/run installs it: apt-get install chromium)")
    _, rep = demo_report()
    page = render_html(rep)
    # self-contained: no resource reference of any kind in the page itself
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|<script|<link""", page)
    assert not re.search(r"https?://(?!learn\.example\.org/)", page.replace(
        "http://www.w3.org", ""))
    (tmp_path / "report.html").write_text(page)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"))
    dom = _headless(browser, tmp_path / "p1", "--virtual-time-budget=3000", "--dump-dom",
                    probe.as_uri()).stdout
    measured = re.search(r'<pre id="measured">([^<]*)</pre>', dom).group(1)
    figures, resources = measured.split("|")
    assert int(resources) == 0  # the page made no request at all
    rows = [f.split(",") for f in figures.split(";")]
    assert len(rows) == 3
    for w, h, vis, disp, rects, score, interval, target in rows:
        assert float(w) > 200 and float(h) > 20 and vis == "visible" and disp != "none"
        assert int(rects) == 3 and int(score) == 1 and int(interval) == 1 and int(target) == 1
    shot = tmp_path / "report.png"
    _headless(browser, tmp_path / "p2", "--window-size=800,1400", "--virtual-time-budget=3000",
              f"--screenshot={shot}", (tmp_path / "report.html").as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
    keep = os.environ.get("ZAPCAT_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / "report.png")
