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
