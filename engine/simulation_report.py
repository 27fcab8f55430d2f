"""The HTML report of a CAT simulation (``zapcat report REPORT.json``).

Built from the JSON-ready summary of :func:`engine.simulation.report`, i.e. from what
``zapcat simulate --out REPORT.json`` writes, so a stored simulation can be reported
without running it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine import plots
from engine.simulation import REPORT_FORMAT
from item_banks.errors import ReportInputError
from item_banks.report import HtmlReport, new_figure

_REQUIRED = ("n_simulees", "bank", "test_length", "bias", "rmse", "conditional", "exposure")


def _check(data: Mapping[str, Any], source: str) -> None:
    if data.get("format", REPORT_FORMAT) != REPORT_FORMAT:
        raise ReportInputError(
            f"{source}: format {data.get('format')!r} is not a simulation report ({REPORT_FORMAT})"
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ReportInputError(
            f"{source}: not a complete simulation report, missing {', '.join(missing)}",
            details={"missing": missing},
        )


def _config_summary(config: Mapping[str, Any]) -> str:
    parts = [
        f"selector {config.get('selector')}",
        f"estimator {config.get('estimator')}",
    ]
    if config.get("randomesque", 1) and config.get("randomesque", 1) > 1:
        parts.append(f"randomesque {config['randomesque']}")
    if config.get("exposure") not in (None, "none"):
        parts.append(f"exposure {config['exposure']}")
    if config.get("max_exposure_rate") is not None:
        parts.append(f"max exposure rate {config['max_exposure_rate']}")
    stop = []
    if config.get("stop_se") is not None:
        stop.append(f"SE ≤ {config['stop_se']}")
    stop.append(f"{config.get('min_items')}–{config.get('max_items')} items")
    if config.get("cut_scores"):
        stop.append(f"classification at {config['cut_scores']}")
    parts.append("stop: " + ", ".join(stop))
    return "; ".join(parts)


def simulation_report(
    data: Mapping[str, Any], *, title: str | None = None, source: str = "report"
) -> HtmlReport:
    """A self-contained HTML report of a CAT simulation.

    Sections: summary (bank, simulees, rules, length, bias, RMSE, speed); conditional
    bias and RMSE by band of true θ (figure and table); test length distribution and stop
    reasons; item exposure (histogram, overlap); classification and blueprint compliance
    when the simulation has them; the full configuration.

    Parameters
    ----------
    data : mapping
        A simulation report (:func:`engine.simulation.report`, or its JSON).
    title : str, optional
    source : str, default "report"
        Name of the input used in error messages (a file name).

    Returns
    -------
    HtmlReport

    Raises
    ------
    ReportInputError
        When ``data`` is not a simulation report (wrong format, missing sections).

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> from engine.config import CATConfig
    >>> from engine.simulation import report, simulate
    >>> bank, config = read_bank(DEMO_BANK_PATH), CATConfig(max_items=10)
    >>> data = report(simulate(bank, config, n=100, seed=1), bank, config)
    >>> simulation_report(data).figure_ids
    ['fig-conditional-bias-and-rmse', 'fig-test-length-distribution', 'fig-item-exposure-rates']
    """
    _check(data, source)
    bank = data["bank"]
    length = data["test_length"]
    config = data.get("config", {})
    report = HtmlReport(title or f"CAT simulation on {bank['name']} (version {bank['version']})")
    report.heading("Summary")
    summary: dict[str, Any] = {
        "bank": f"{bank['name']} version {bank['version']} ({bank['n_items']} items)",
        "simulees": data["n_simulees"],
        "rules": _config_summary(config) if config else "not recorded",
        "test length": f"mean {length['mean']:.2f} (SD {length['sd']:.2f}), "
        f"{length['min']}–{length['max']} scored items",
        "bias": f"{data['bias']:.3f}",
        "RMSE": f"{data['rmse']:.3f}",
    }
    if "mean_se" in data:
        summary["mean SE"] = f"{data['mean_se']:.3f}"
    if data.get("correlation") is not None:
        summary["correlation θ̂, θ"] = f"{data['correlation']:.3f}"
    if data.get("simulees_per_second"):
        summary["speed"] = f"{data['simulees_per_second']:.0f} simulees/s"
    report.summary(summary)

    report.heading("Precision by ability")
    fig, ax = new_figure()
    plots.conditional_by_band(data["conditional"], ax=ax)
    report.figure(fig, caption="Conditional bias and RMSE")
    bands = pd.DataFrame(
        [
            {
                "band": f"[{'-∞' if e['band'][0] is None else e['band'][0]}, "
                f"{'∞' if e['band'][1] is None else e['band'][1]})",
                **{k: e.get(k) for k in ("n", "bias", "rmse", "mean_se", "mean_length")},
            }
            for e in data["conditional"]
        ]
    )
    report.table(bands, caption="Conditional statistics by band of true theta")

    report.heading("Test length")
    distribution = length.get("distribution")
    if distribution:
        lengths = np.repeat([int(k) for k in distribution], [int(v) for v in distribution.values()])
        fig, ax = new_figure()
        plots.test_length_distribution(lengths, ax=ax)
        report.figure(fig, caption="Test length distribution")
    else:
        report.paragraph("The report holds no length distribution (made by an older version).")
    if data.get("stop_reasons"):
        reasons = pd.DataFrame(
            sorted(data["stop_reasons"].items(), key=lambda kv: -kv[1]),
            columns=["stop reason", "simulees"],
        )
        report.table(reasons, caption="Stop reasons")

    report.heading("Item exposure")
    exposure = data["exposure"]
    rates = np.zeros(int(bank["n_items"]))
    listed = np.asarray(list(exposure.get("rates", {}).values()), dtype=float)
    rates[: listed.size] = listed  # unused items (not listed) stay at 0
    fig, ax = new_figure()
    target = config.get("max_exposure_rate") or exposure.get("target")
    plots.exposure_histogram(rates, max_rate=target, ax=ax)
    report.figure(fig, caption="Item exposure rates")
    exposure_facts = {
        "largest rate": f"{exposure['max']:.3f}",
        "items never used": f"{exposure['n_unused']} of {bank['n_items']}",
    }
    if "share_first_item_max" in exposure:
        exposure_facts["most common first item"] = f"{exposure['share_first_item_max']:.3f}"
    if "overlap" in data:
        exposure_facts["test overlap"] = f"{data['overlap']:.3f}"
    report.summary(exposure_facts)
    top = sorted(exposure.get("rates", {}).items(), key=lambda kv: -kv[1])[:15]
    if top:
        report.table(
            pd.DataFrame(top, columns=["item_id", "exposure rate"]),
            caption="Most exposed items",
        )

    if "classification" in data:
        report.heading("Classification")
        cls = data["classification"]
        report.summary({"cut scores": cls["cut_scores"], "accuracy": f"{cls['accuracy']:.3f}"})
        labels = [f"class {k}" for k in range(len(cls["confusion"]))]
        confusion = pd.DataFrame(cls["confusion"], index=labels, columns=labels)
        confusion.index.name = "true \\ estimated"
        report.table(confusion.reset_index(), caption="Confusion matrix")
    if "blueprint" in data:
        report.heading("Blueprint")
        report.summary(dict(data["blueprint"]))
    if config:
        report.heading("Configuration")
        report.paragraph(
            "The engine configuration as JSON (a CATConfig: zapcat simulate --config takes "
            "this document, the service's assessments take it as config)."
        )
        report.code(json.dumps(config, indent=2, sort_keys=True, default=str))
    return report


__all__ = ["simulation_report"]
