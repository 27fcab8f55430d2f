"""``zapcat simulate --exposure-target``: a target that is not reached is said, with the figure."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from item_banks.bank import Item, ItemBank
from item_banks.io import write_bank

runner = CliRunner()


def _bank(tmp_path, n: int):
    items = [
        Item(f"q{i:02d}", "2pl", {"a": 1.0 + 0.05 * i, "b": -1.5 + 3 * i / n}) for i in range(n)
    ]
    path = tmp_path / "bank.json"
    write_bank(ItemBank(items, name="small"), path)
    return path


def test_missed_exposure_target_is_warned_with_the_figure_reached(tmp_path):
    # 10 items out of 12 per test: no exposure control can hold every item under 0.2
    bank, out = _bank(tmp_path, 12), tmp_path / "rep.json"
    res = runner.invoke(
        app,
        [
            "simulate",
            str(bank),
            "--n",
            "200",
            "--max-items",
            "10",
            "--no-se-stop",
            "--exposure-target",
            "0.2",
            "--out",
            str(out),
        ],
        env={"COLUMNS": "400"},
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    exposure = rep["exposure"]
    assert exposure["target"] == 0.2 and exposure["target_reached"] is False
    rates = exposure["rates"]
    # independent count: the share of tests that gave each item, from the report's rates
    worst = max(rates, key=rates.get)
    assert exposure["max"] == rates[worst] > 0.2
    over = [i for i, r in rates.items() if r > 0.2]
    assert sorted(exposure["items_over_target"]) == sorted(over)
    assert (
        f"warning: the exposure target 0.2 was not reached: the maximum exposure is "
        f"{exposure['max']:.3f} (item {worst}), and {len(over)} item(s) are above the target"
    ) in res.stderr


def test_reached_exposure_target_is_recorded_without_warning(tmp_path):
    bank, out = _bank(tmp_path, 60), tmp_path / "rep.json"
    res = runner.invoke(
        app,
        [
            "simulate",
            str(bank),
            "--n",
            "300",
            "--max-items",
            "3",
            "--no-se-stop",
            "--exposure-target",
            "0.6",
            "--out",
            str(out),
        ],
        env={"COLUMNS": "400"},
    )
    assert res.exit_code == 0, res.output
    exposure = json.loads(out.read_text())["exposure"]
    assert exposure["max"] <= 0.6 and exposure["target_reached"] is True
    assert "not reached" not in res.stderr
