"""README.md is executed documentation: every Python snippet runs, its claims hold."""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_python_snippets():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i}")
def test_readme_python_snippet_runs_unchanged(index, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(ROOT)  # the snippets name files of a fresh clone, from its root
    before = set(os.listdir(ROOT))
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
    plt.close("all")
    assert set(os.listdir(ROOT)) == before  # a snippet leaves nothing behind in the clone


def test_readme_start_rule_claims_hold_on_the_demo_bank():
    from engine import CATConfig, report, simulate
    from item_banks import read_bank
    from item_banks.examples import DEMO_BANK_PATH

    assert "so no item is every test's first item" in README
    assert "the most common first item starts about 1 test in 5" in README
    assert "one item is in every test, `exposure.max`\n  = 1" in README
    bank = read_bank(DEMO_BANK_PATH)
    config = CATConfig.from_dict({}, bank=bank)
    rep = report(simulate(bank, config, n=1000, seed=1), bank, config)
    assert 0.12 < rep["exposure"]["share_first_item_max"] < 0.3
    assert rep["exposure"]["max"] == 1.0


def test_readme_curl_replies_are_marked_as_samples():
    walkthrough = README[README.index("**A whole test with curl**") : README.index("Or let a loop")]
    assert "the\nreplies shown after `#` are samples" in walkthrough
    replies = [line for line in walkthrough.splitlines() if line.startswith("# {")]
    assert replies == []  # every sample reply is labelled "# sample: ..."
    assert walkthrough.count("# sample:") == 3


def _commands(block: str) -> list[str]:
    """Shell commands of a README block: continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split("  #")[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


@pytest.mark.slow
def test_readme_calibration_commands_run_on_a_fresh_clone(tmp_path, monkeypatch):
    import shlex
    import shutil

    from typer.testing import CliRunner

    from api.cli import app

    section = README[README.index("## Calibration") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = _commands(block)
    assert len(commands) == 5 and all(c.startswith("zapcat calibrate ") for c in commands)
    shutil.copytree(ROOT / "tests" / "data", tmp_path / "tests" / "data")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in commands:
        done = runner.invoke(app, shlex.split(command)[1:], env={"COLUMNS": "200"})
        assert done.exit_code == 0, (command, done.output)
    for written in ("lsat7.json", "scores.csv", "fit.csv", "attitude.json", "four.json",
                    "seven.json", "bfi.json", "bfi_fit.csv"):  # fmt: skip
        assert (tmp_path / written).exists(), written


def test_engine_report_stays_the_function_after_the_html_report_is_imported():
    import importlib

    import engine
    from engine.simulation import report as function

    importlib.import_module("engine.simulation_report")  # what `zapcat report` imports
    from engine import report

    assert report is function and engine.report is function
