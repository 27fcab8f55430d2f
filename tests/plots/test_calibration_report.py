"""The calibration report: opened and checked against the result it was made from.

Data: the real LSAT7 responses (tests/data), whose 2PL estimates are pinned elsewhere
against mirt's published values; here the report must show exactly the result's numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration import calibrate
from calibration.report import calibration_report

LSAT7 = Path(__file__).resolve().parents[1] / "data" / "lsat7.csv"


@pytest.fixture(scope="module")
def lsat7_fit():
    return calibrate(str(LSAT7), "2pl")


def test_calibration_report_shows_the_result(lsat7_fit, tmp_path, report_tools):
    parse, png = report_tools
    path = calibration_report(lsat7_fit).write(tmp_path / "cal.html")
    text = path.read_text(encoding="utf-8")
    doc = parse(text)
    assert doc.external == []
    assert doc.headings[0] == f"Calibration of {lsat7_fit.data.source}"
    assert {"Summary", "Parameters", "Test information", "Persons and items"} <= set(doc.headings)
    assert "fig-test-information-and-conditional-se" in doc.figures
    assert "fig-wright-map" in doc.figures
    for fig in doc.figures.values():
        assert np.ptp(png(fig["png"])[..., :3]) > 0.5
    assert f"{lsat7_fit.loglik:.3f}" in text and f"{lsat7_fit.aic:.2f}" in text
    assert "1000 persons, 5 items, 5000 responses" in text

    rows = doc.tables["table-item-parameters-and-standard-errors"]["rows"]
    assert rows[0] == ["item_id", "model", "n_categories", "a", "a_se", "b", "b_se"]
    params = lsat7_fit.params
    assert [r[0] for r in rows[1:]] == list(params.index)
    for row in rows[1:]:
        for col, cell in zip(rows[0][3:], row[3:], strict=True):
            assert cell == f"{params.loc[row[0], col]:.3f}"

    ci = doc.tables["table-95-wald-confidence-intervals"]["rows"]
    assert ci[0] == ["item_id", "param", "estimate", "se", "lower", "upper"]
    assert len(ci) - 1 == 10  # a and b of 5 items
    first = ci[1]
    a1, se1 = params.loc[first[0], "a"], params.loc[first[0], "a_se"]
    assert first[4] == f"{a1 - 1.959964 * se1:.3f}" and first[5] == f"{a1 + 1.959964 * se1:.3f}"


def test_calibration_report_has_the_item_fit(lsat7_fit, report_tools):
    parse, _ = report_tools
    doc = parse(calibration_report(lsat7_fit).to_html())
    assert "Item fit" in doc.headings and "fig-item-fit-overview" in doc.figures
    rows = doc.tables["table-item-fit-statistics"]["rows"]
    fit = lsat7_fit.item_fit()
    assert rows[0] == ["item_id", *fit.columns]
    for row in rows[1:]:
        for col, cell in zip(rows[0][1:], row[1:], strict=True):
            value = fit.loc[row[0], col]
            assert cell == ("" if np.isnan(value) else f"{value:.3f}")


def test_zapcat_calibrate_writes_the_report(tmp_path, report_tools):
    from typer.testing import CliRunner

    from api.cli import app

    parse, _ = report_tools
    out, html = tmp_path / "bank.json", tmp_path / "cal.html"
    result = CliRunner().invoke(
        app,
        ["calibrate", str(LSAT7), "--out", str(out), "--report", str(html)],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.output
    assert f"wrote report to {html}" in result.output
    doc = parse(html.read_text(encoding="utf-8"))
    assert list(doc.figures) == [
        "fig-item-fit-overview",
        "fig-test-information-and-conditional-se",
        "fig-wright-map",
    ]
    assert len(doc.tables["table-item-parameters-and-standard-errors"]["rows"]) == 6


def test_report_of_a_fit_with_a_negative_slope_names_the_item(report_tools):
    # real data: SPISA item eco5 has a negative item-rest correlation, so its ML slope is < 0
    parse, _ = report_tools
    spisa = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "spisa.csv"
    fit = calibrate(str(spisa), "2pl")
    assert list(fit.negative_slopes()) == ["eco5"]
    text = calibration_report(fit).to_html()
    doc = parse(text)
    assert "Items with negative slopes: eco5 (a = -0." in text
    assert "Test information" not in doc.headings and "fig-wright-map" not in doc.figures
    rows = doc.tables["table-item-parameters-and-standard-errors"]["rows"]
    eco5 = next(r for r in rows if r[0] == "eco5")
    assert float(eco5[3]) < 0


def test_zapcat_calibrate_report_explains_a_fit_that_cannot_be_a_bank(tmp_path):
    from typer.testing import CliRunner

    from api.cli import app

    spisa = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "spisa.csv"
    out, html = tmp_path / "bank.json", tmp_path / "cal.html"
    result = CliRunner().invoke(
        app,
        ["calibrate", str(spisa), "--out", str(out), "--report", str(html)],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 1 and "negative slopes" in result.output
    assert not out.exists()
    assert "Items with negative slopes: eco5" in html.read_text(encoding="utf-8")
