"""Imports run one way: guidance stands on engine and item_banks; nothing below imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> set[tuple[str, str]]:
    out = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {(str(path.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return out


def test_guidance_imports_neither_api_nor_calibration():
    bad = {(f, m) for f, m in _imports("guidance") if m in ("api", "calibration")}
    assert not bad


def test_lower_layers_do_not_import_guidance():
    for package in ("item_banks", "engine", "calibration"):
        bad = {(f, m) for f, m in _imports(package) if m in ("guidance", "api")}
        assert not bad, bad
