"""Every plot function appears in at least one notebook or HTML report (issue 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibration import plots as calibration_plots
from engine import plots as engine_plots
from item_banks import plots as item_bank_plots

ROOT = Path(__file__).resolve().parents[2]
HELPERS = {"new_axes", "theta_grid", "item_positions", "model_label", "item_locations"}
PLOTS = [
    (module.__name__, name)
    for module in (item_bank_plots, calibration_plots, engine_plots)
    for name in module.__all__
    if name not in HELPERS and not name.isupper()
]
REPORTS = ["item_banks/report.py", "calibration/report.py", "engine/simulation_report.py"]
DRAWN_THROUGH = {"adaptive_test_trace": ("state_trace", "result_trace")}
"""Plots that notebooks draw through a wrapper taking a state or a service result."""


def _sources() -> dict[str, str]:
    out = {path: (ROOT / path).read_text(encoding="utf-8") for path in REPORTS}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        out[notebook.name] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
    return out


SOURCES = _sources()


def test_the_list_of_plots_is_complete():
    assert len(PLOTS) == 13


@pytest.mark.parametrize(("module", "name"), PLOTS, ids=[n for _, n in PLOTS])
def test_plot_is_used_in_a_notebook_or_report(module, name):
    names = DRAWN_THROUGH.get(name, (name,))
    users = [where for where, text in SOURCES.items() if any(f".{n}(" in text for n in names)]
    assert users, f"{module}.{name} is drawn in no notebook and no report"
