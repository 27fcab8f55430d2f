"""Report figures a person can read: labels, legends and the configuration."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from calibration import calibrate, read_responses
from calibration import plots as cp
from calibration.report import calibration_report
from engine import CATConfig, report, simulate
from engine.simulation_report import simulation_report
from item_banks import plots
from item_banks.bank import Item, ItemBank
from item_banks.report import bank_report, new_figure

DATA = Path(__file__).resolve().parents[1] / "data"


def _boxes(fig, artists):
    """Window extents; of an annotation, its text only (not the leader line)."""
    from matplotlib.text import Annotation, Text

    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    return [
        Text.get_window_extent(a, renderer) if isinstance(a, Annotation)
        else a.get_window_extent(renderer)
        for a in artists
    ]  # fmt: skip


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _long_label_bank() -> ItemBank:
    names = [f"S{k}{w}{v}" for k in (1, 2, 3, 4) for w in ("Want", "Do") for v in
             ("Curse", "Scold", "Shout")]  # fmt: skip
    rng = np.random.default_rng(2)
    locs = np.sort(rng.normal(0, 1, len(names)))
    items = [Item(n, "grm", {"a": 1.0, "b1": float(b), "b2": float(b) + 1.0})
             for n, b in zip(names, locs, strict=True)]  # fmt: skip
    items.append(Item("runaway", "2pl", {"a": 0.05, "b": 40.0}))
    return ItemBank(items, name="va")


def test_wright_map_labels_are_horizontal_readable_inside_and_apart():
    bank = _long_label_bank()
    fig, ax = new_figure((8.0, 6.0))
    cp.wright_map(bank, np.random.default_rng(1).normal(size=300), ax=ax)
    labels = list(ax.texts)
    assert [t.get_text() for t in labels][-1] == "runaway"  # off-scale item labelled too
    assert all(t.get_rotation() == 0 for t in labels)
    assert all(t.get_fontsize() >= 8 for t in labels)
    boxes = _boxes(fig, labels)
    frame = ax.get_window_extent(fig.canvas.get_renderer())
    title = ax.title.get_window_extent(fig.canvas.get_renderer())
    for box, text in zip(boxes, labels, strict=True):
        # inside the axes: never clipped by the frame, never in the title
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 + 0.5, text.get_text()
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1 + 0.5, text.get_text()
        assert not _overlap(box, title)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlap(boxes[i], boxes[j]), (labels[i].get_text(), labels[j].get_text())


def test_kct_wright_map_off_scale_label_stays_out_of_the_title():
    result = calibrate(read_responses(DATA / "kct.csv"), "2pl")
    bank = result.to_item_bank("kct")
    fig, ax = new_figure((8.0, 6.0))
    cp.wright_map(bank, result.scores()["theta"].to_numpy(), ax=ax)
    boxes = _boxes(fig, ax.texts)
    renderer = fig.canvas.get_renderer()
    title = ax.title.get_window_extent(renderer)
    frame = ax.get_window_extent(renderer)
    kct14 = next(b for b, t in zip(boxes, ax.texts, strict=True) if t.get_text() == "kct14")
    assert kct14.y1 <= frame.y1 + 0.5 and not _overlap(kct14, title)
    assert kct14.x1 <= frame.x1 + 0.5  # not clipped at the right edge


@pytest.mark.parametrize("which", ["test_information", "conditional"])
def test_legends_sit_below_the_axes_not_on_the_curves(which, demo_bank):
    fig, ax = new_figure()
    if which == "test_information":
        plots.test_information(demo_bank, ax=ax)
    else:
        from engine import plots as ep

        ep.conditional_bias_rmse(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200) + 0.1, ax=ax)
    legend = ax.get_legend()
    assert legend is not None
    box, frame = _boxes(fig, [legend, ax])
    assert box.y1 <= frame.y0  # entirely under the plotting area: it covers no curve


def test_simulation_report_shows_the_configuration_as_json(demo_bank):
    config = CATConfig.from_dict({"max_items": 10, "stop_se": None}, bank=demo_bank)
    data = report(simulate(demo_bank, config, n=50, seed=1), demo_bank, config)
    text = simulation_report(data).to_html()
    block = re.search(r'<pre class="code">(.*?)</pre>', text, re.S)
    assert block is not None
    shown = json.loads(html.unescape(block.group(1)))
    assert shown == json.loads(json.dumps(data["config"]))
    section = text[text.index(">Configuration<") :]
    assert "None" not in section and "True" not in section and "False" not in section
    assert '"stop_se": null' in html.unescape(section)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_reports_render_in_headless_chromium(tmp_path, demo_bank):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (.ci/run installs it: apt-get install chromium)")
    config = CATConfig.from_dict({"max_items": 10}, bank=demo_bank)
    result = calibrate(read_responses(DATA / "kct.csv"), "2pl")
    pages = {
        "bank": bank_report(demo_bank),
        "simulation": simulation_report(
            report(simulate(demo_bank, config, n=100, seed=1), demo_bank, config)
        ),
        "calibration": calibration_report(result),
    }
    for name, page in pages.items():
        path = page.write(tmp_path / f"{name}.html")
        common = [
            browser, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run",
        ]  # fmt: skip
        dom = subprocess.run(
            [*common, f"--user-data-dir={tmp_path / ('p1' + name)}", "--dump-dom",
             path.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert dom.stdout.count("<img") == len(page.figure_ids)
        assert not re.findall(r"""(?:src|href)=["']https?://""", dom.stdout)
        shot = tmp_path / f"{name}.png"
        subprocess.run(
            [*common, f"--user-data-dir={tmp_path / ('p2' + name)}", "--window-size=1280,900",
             f"--screenshot={shot}", path.as_uri()],
            capture_output=True, timeout=120,
        )  # fmt: skip
        image = plt_image(shot)
        assert image.shape[1] == 1280
        assert image.std() > 0.05  # something is drawn: not a blank page


def plt_image(path: Path):
    import matplotlib.image as mpimg

    return mpimg.imread(path)
