"""``zapcat bank show`` and ``zapcat bank validate``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from api.cli import app
from item_banks.examples import DEMO_BANK_PATH
from item_banks.io import bank_from_json, read_bank

runner = CliRunner()


def test_show_table_summarises_the_demo_bank() -> None:
    result = runner.invoke(app, ["bank", "show", str(DEMO_BANK_PATH)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    bank = read_bank(DEMO_BANK_PATH)
    assert f"skills-demo version 1: {len(bank)} items" in result.output
    n_3pl = sum(it.model == "3pl" for it in bank)
    assert f"3pl {n_3pl}" in result.output
    first = bank.items[0]
    assert first.item_id in result.output
    assert f"a={first.params['a']:.3f}" in result.output
    assert bank.items[-1].item_id in result.output  # every item shown without --limit


def test_show_limit_and_machine_formats() -> None:
    limited = runner.invoke(app, ["bank", "show", str(DEMO_BANK_PATH), "--limit", "3"])
    assert limited.exit_code == 0
    assert "247 more items" in limited.output
    as_json = runner.invoke(app, ["bank", "show", str(DEMO_BANK_PATH), "--format", "json"])
    assert bank_from_json(as_json.output) == read_bank(DEMO_BANK_PATH)
    as_csv = runner.invoke(app, ["bank", "show", str(DEMO_BANK_PATH), "-f", "csv"])
    frame = pd.read_csv(io.StringIO(as_csv.output), dtype={"item_id": str})
    assert len(frame) == 250
    assert list(frame.columns[:5]) == ["item_id", "model", "n_categories", "a", "b"]


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    doc = json.loads(DEMO_BANK_PATH.read_text())
    doc["items"][0]["params"]["a"] = -2.0
    doc["items"][5]["model"] = "9pl"
    doc["items"][7]["item_id"] = doc["items"][6]["item_id"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(app, ["bank", "validate", str(path)])
    assert result.exit_code == 1
    out = result.output
    assert "3 problems" in out
    assert "items[0]" in out and "-2.0" in out
    assert "items[5]" in out and "'9pl'" in out
    assert "items[7]" in out and "duplicate" in out


def test_validate_accepts_a_good_bank_and_rejects_a_missing_file(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["bank", "validate", str(DEMO_BANK_PATH)])
    assert ok.exit_code == 0
    assert "valid (250 items)" in ok.output
    missing = runner.invoke(app, ["bank", "validate", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1
    assert "not found" in missing.output


def test_help_explains_every_option() -> None:
    top = runner.invoke(app, ["--help"])
    assert "bank" in top.output
    show = runner.invoke(app, ["bank", "show", "--help"], env={"COLUMNS": "200"})
    for option in ("--format", "--limit", "table", "csv", "json"):
        assert option in show.output


def test_console_script_runs_as_installed() -> None:
    exe = Path(sys.executable).with_name("zapcat")
    done = subprocess.run(
        [str(exe), "bank", "show", str(DEMO_BANK_PATH), "--limit", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "skills-demo" in done.stdout
