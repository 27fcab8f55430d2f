"""The HTML report of a battery simulation (``zapcat report REPORT.json``).

Built from the JSON of :func:`engine.battery_summary.summarize_battery` (what ``zapcat
battery simulate --out`` writes): per-skill precision, items per skill, PRMSE and added
value, the collateral prior's effect, and the false-label rate on flat profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.battery_summary import REPORT_FORMAT
from item_banks.errors import ReportInputError
from item_banks.report import HtmlReport, new_figure

_REQUIRED = ("battery", "n", "skills", "items", "labels")


def battery_report(data: Mapping[str, Any], *, source: str = "report") -> HtmlReport:
    """A self-contained HTML report of a battery simulation.

    Raises
    ------
    ReportInputError
        When ``data`` is not a complete battery report.
    """
    if data.get("format") != REPORT_FORMAT:
        raise ReportInputError(f"{source}: format {data.get('format')!r} is not a battery "
                               f"report ({REPORT_FORMAT})")  # fmt: skip
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ReportInputError(f"{source}: not a complete battery report, missing "
                               f"{', '.join(missing)}", details={"missing": missing})
    b = data["battery"]
    report = HtmlReport(f"Battery simulation: {b['name']} (version {b['version']})")
    report.heading("Summary")
    items = data["items"]
    facts: dict[str, Any] = {
        "skills": ", ".join(b["skills"]),
        "learners": f"{data['n']}{' replayed from real data' if data.get('replay') else ''}",
        "order, budget": f"{b['order']}, {b['budget']} items",
        "items": f"mean {items['mean']:.2f} (SD {items['sd']:.2f}), {items['min']}-{items['max']}",
        "speed": f"{data.get('simulees_per_second', 0):.0f} learners/s",
        "stop reasons": ", ".join(f"{k} {v}" for k, v in data.get("stop_reasons", {}).items()),
        "learners with a strength or area": f"{data['labels']['share_with_label']:.3f}",
    }
    report.summary(facts)
    report.heading("Per skill")
    frame = pd.DataFrame(data["skills"])
    report.table(frame, caption="Per-skill items, precision, PRMSE and added value")
    fig, ax = new_figure()
    x = np.arange(len(frame))
    ax.bar(x, frame["mean_items"], color="#4c72b0")
    ax.set_xticks(x, frame["skill_id"])
    ax.set_ylabel("mean items")
    report.figure(fig, caption="Items per skill")
    if "collateral" in data:
        report.heading("Collateral prior")
        c = data["collateral"]
        report.summary({"items with": f"{c['mean_items_with']:.2f}",
                        "items without": f"{c['mean_items_without']:.2f}"})
        report.table(pd.DataFrame(c["skills"]), caption="With and without the collateral prior")
    if "false_labels" in data:
        report.heading("False labels on flat profiles")
        report.summary({k: (f"{v:.4f}" if isinstance(v, float) else v)
                        for k, v in data["false_labels"].items()})  # fmt: skip
    return report


__all__ = ["battery_report"]
