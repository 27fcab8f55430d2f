"""``zapcat report BANK`` and :mod:`item_banks.report`: open the HTML and check its content.

Truths: counts and parameter values read straight from the bank's JSON file (not through
``ItemBank``), and SEs written into a bank built here.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from item_banks import Item, ItemBank, write_bank
from item_banks.examples import DEMO_BANK_PATH
from item_banks.report import HtmlReport, bank_report, composition_table

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["report", *map(str, args)], env={"COLUMNS": "200"})


def test_bank_report_from_the_cli_has_its_figures_and_tables(tmp_path, report_tools):
    parse, png = report_tools
    out = tmp_path / "demo.html"
    result = _run(DEMO_BANK_PATH, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"{out}: 2 figures, 2 tables" in result.output
    doc = parse(out.read_text(encoding="utf-8"))
    assert doc.external == []  # self-contained: no scripts, style sheets or linked images
    assert doc.headings == [
        "Item bank skills-demo (version 1)",
        "Summary",
        "Items by model and content area",
        "Test information",
        "Parameters",
    ]
    assert list(doc.figures) == [
        "fig-items-by-content-area-and-model",
        "fig-test-information-and-conditional-se",
    ]
    for fig in doc.figures.values():
        image = png(fig["png"])
        assert image.shape[0] >= 250 and image.shape[1] >= 600
        assert np.ptp(image[..., :3]) > 0.5  # not blank
    raw = json.loads(DEMO_BANK_PATH.read_text())["items"]

    comp = doc.tables["table-items-by-model-and-content-area"]
    assert comp["caption"] == "Items by model and content area"
    header = comp["rows"][0]
    areas = sorted({a for it in raw for a in it["content_areas"]})
    assert header == ["model", *areas, "total"]
    body = {row[0]: [int(v) for v in row[1:]] for row in comp["rows"][1:]}
    label = {"3pl": "3pl", "2pl": "2pl", "grm": "grm K=4"}
    for model in ("2pl", "3pl", "grm"):
        mine = [it for it in raw if it["model"] == model]
        per_area = Counter(a for it in mine for a in it["content_areas"])
        assert body[label[model]] == [per_area[a] for a in areas] + [len(mine)]
    assert body["total"][-1] == len(raw) == 250

    params = doc.tables["table-item-parameters-and-standard-errors"]
    header, rows = params["rows"][0], params["rows"][1:]
    assert header[:3] == ["item_id", "model", "n_categories"]
    assert not any(h.endswith("_se") for h in header)  # the demo bank has no SEs
    assert len(rows) == 250
    for it, row in zip(raw, rows, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["item_id"] == it["item_id"] and cells["model"] == it["model"]
        for name, value in it["params"].items():
            assert cells[name] == f"{value:.3f}"
        assert cells["content_areas"] == ";".join(it["content_areas"])


def _bank_with_ses():
    items = [
        Item("q1", "2pl", {"a": 1.2, "b": -0.5}, se={"a": 0.11, "b": 0.07}, content_areas=("x",)),
        Item("q2", "3pl", {"a": 0.8, "b": 0.9, "c": 0.2}, se={"a": 0.2, "b": 0.3, "c": 0.05}),
        Item("q3", "gpcm", {"a": 1.0, "b1": -1.0, "b2": 0.5}, status="pretest"),
    ]
    return ItemBank(items, name="with-se", version="2", provenance={"software": "test"})


def test_parameter_table_puts_each_se_beside_its_parameter(tmp_path, report_tools):
    parse, _ = report_tools
    path = write_bank(_bank_with_ses(), tmp_path / "se.csv")
    result = _run(path)  # CSV input, default output path
    assert result.exit_code == 0, result.output
    doc = parse((tmp_path / "se.html").read_text(encoding="utf-8"))
    table = doc.tables["table-item-parameters-and-standard-errors"]["rows"]
    assert table[0] == [
        "item_id",
        "model",
        "n_categories",
        "a",
        "a_se",
        "b",
        "b_se",
        "c",
        "c_se",
        "b1",
        "b2",
        "content_areas",
        "enemy_groups",
        "status",
        "tags",
    ]
    assert table[1][:9] == ["q1", "2pl", "2", "1.200", "0.110", "-0.500", "0.070", "", ""]
    assert table[2][3:9] == ["0.800", "0.200", "0.900", "0.300", "0.200", "0.050"]
    assert table[3][3:11] == ["1.000", "", "", "", "", "", "-1.000", "0.500"]
    summary = out_text = (tmp_path / "se.html").read_text(encoding="utf-8")
    assert "items with standard errors</dt><dd>2</dd>" in summary
    assert "operational: 2, pretest: 1" in out_text


def test_composition_table_counts_multi_area_items_in_each_area():
    items = [
        Item("i1", "2pl", {"a": 1.0, "b": 0.0}, content_areas=("algebra", "geometry")),
        Item("i2", "2pl", {"a": 1.0, "b": 0.0}, content_areas=("algebra",)),
        Item("i3", "grm", {"a": 1.0, "b1": 0.0, "b2": 1.0}),
    ]
    table = composition_table(ItemBank(items, name="m"))
    expected = pd.DataFrame(
        {"(none)": [0, 1, 1], "algebra": [2, 0, 2], "geometry": [1, 0, 1], "total": [2, 1, 3]},
        index=pd.Index(["2pl", "grm K=3", "total"], name="model"),
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_report_builder_escapes_text_and_numbers_ids():
    report = HtmlReport("<b>title</b>")
    report.paragraph("a < b & c")
    report.table(pd.DataFrame({"x": ["<i>"]}), caption="same")
    report.table(pd.DataFrame({"x": [1.23456]}), caption="same")
    text = report.to_html()
    assert "<b>title</b>" not in text and "&lt;b&gt;title&lt;/b&gt;" in text
    assert "a &lt; b &amp; c" in text and "&lt;i&gt;" in text and "1.235" in text
    assert report.table_ids == ["table-same", "table-same-2"]


def test_bank_report_has_no_pyplot_side_effects():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    bank_report(_bank_with_ses())
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "zapcat-sim/9"}', "unknown report input format 'zapcat-sim/9'"),
        ("[1, 2]", "unknown report input format None"),
        ("not json", "not a JSON file"),
    ],
)
def test_unknown_input_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "in.json"
    path.write_text(content)
    result = _run(path, "--out", tmp_path / "x.html")
    assert result.exit_code == 1
    assert "invalid_report_input" in result.output and message in result.output
    assert not (tmp_path / "x.html").exists()


def test_invalid_bank_reports_every_problem(tmp_path):
    data = json.loads(DEMO_BANK_PATH.read_text())
    data["items"][3]["params"]["a"] = -1.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = _run(path)
    assert result.exit_code == 1
    assert "invalid_item_bank" in result.output and data["items"][3]["item_id"] in result.output


def test_notebook_view_isolates_the_page_in_an_iframe(report_tools):
    import html as html_lib

    parse, _ = report_tools
    report = bank_report(_bank_with_ses())
    inline = report._repr_html_()
    assert inline.startswith('<iframe srcdoc="') and "<style>" not in inline
    inner = html_lib.unescape(inline.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert list(parse(inner).figures) == report.figure_ids
