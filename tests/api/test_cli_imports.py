"""Every ``zapcat`` command imports only what it uses (measured in a fresh interpreter).

``zapcat --help`` once took 2.6 s of CPU because every command imported matplotlib,
scipy.stats, SQLAlchemy and FastAPI; these tests run each command in a new process and
list the modules it loaded, so that a top-level import anywhere in the chain shows up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from item_banks.examples import DEMO_BANK_PATH

HEAVY = (
    "matplotlib",
    "scipy",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "alembic",
    "pandas",
    "pyld",
    "cryptography",
    "jwt",
    "pydantic",
)
"""Libraries that no command needs for its help, nor for reading and printing a bank
(pydantic: typer 0.29 converts parameter values through it; api/cli/_coerce.py does the
plain ones without it)."""

PROGRAM = """
import json, sys
from api.cli import app
try:
    app(sys.argv[2:], prog_name="zapcat")
except SystemExit:
    pass
with open(sys.argv[1], "w") as fh:
    json.dump(sorted(sys.modules), fh)
"""


def modules_after(args: list[str], tmp_path: Path) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def heavy_in(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["calibrate", "--help"],
        ["bank", "--help"],
        ["bank", "show", "--help"],
        ["bank", "transform", "--help"],
        ["bank", "promote", "--help"],
        ["simulate", "--help"],
        ["keys", "--help"],
        ["serve", "--help"],
        ["report", "--help"],
        ["sessions", "--help"],
        ["sessions", "close-idle", "--help"],
        ["link", "--help"],
        ["drift", "--help"],
        ["dif", "--help"],
        ["responses", "--help"],
        ["battery", "--help"],
        ["battery", "show", "--help"],
        ["battery", "simulate", "--help"],
        ["recommend", "--help"],
        ["badge", "--help"],
        ["badge", "verify", "--help"],
        ["badge", "issue", "--help"],
        ["badge", "revoke", "--help"],
        ["badge", "rotate", "--help"],
        ["badge", "issuer", "--help"],
        ["bank", "show", str(DEMO_BANK_PATH)],
        ["bank", "show", str(DEMO_BANK_PATH), "--format", "json"],
        ["bank", "show", str(DEMO_BANK_PATH), "--limit", "3", "-f", "table"],
        ["bank", "validate", str(DEMO_BANK_PATH)],
    ],
    ids=lambda a: " ".join(Path(x).name for x in a),
)
def test_help_and_bank_commands_import_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    modules = modules_after(args, tmp_path)
    assert "typer" in modules and "api.cli._common" in modules  # the probe saw it run
    assert heavy_in(modules) == []
    if args[-1] == "--help":  # a help page needs no item model
        assert heavy_in(modules, ("numpy",)) == []


def test_the_listing_imports_no_command_and_no_numpy(tmp_path: Path) -> None:
    """``zapcat --help`` shows each command's summary without importing its module."""
    for args in (["--help"], []):
        modules = modules_after(args, tmp_path)
        assert "typer" in modules and "api.cli._lazy" in modules
        commands = sorted(m for m in modules if m.startswith("api.cli."))
        assert commands == ["api.cli._coerce", "api.cli._common", "api.cli._lazy"]
        assert heavy_in(modules, (*HEAVY, "numpy", "item_banks.io")) == []
        assert [m for m in modules if m.startswith("item_banks.")] == ["item_banks.errors"]


def test_a_command_imports_its_own_module_only(tmp_path: Path) -> None:
    modules = modules_after(["bank", "show", str(DEMO_BANK_PATH), "--limit", "2"], tmp_path)
    commands = {m for m in modules if m.startswith("api.cli.") and not m.startswith("api.cli._")}
    assert commands == {"api.cli.bank", "api.cli.maintain"}  # bank transform | promote
    assert "numpy" in modules  # the bank's model


def test_calibrate_imports_the_fit_but_not_plots_or_the_service(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(size=300)
    b = np.linspace(-1.5, 1.5, 6)
    x = (rng.random((300, 6)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(int)
    path = tmp_path / "resp.csv"
    header = ",".join(f"q{j + 1}" for j in range(6))
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in x) + "\n")
    modules = modules_after(
        ["calibrate", str(path), "--out", str(tmp_path / "bank.json")], tmp_path
    )
    assert (tmp_path / "bank.json").exists()
    assert "calibration.estimation" in modules
    assert heavy_in(modules, ("matplotlib", "sqlalchemy", "fastapi", "uvicorn", "alembic")) == []
    assert "scipy.stats" not in modules


def test_report_format_constants_match_the_engine() -> None:
    from api.cli.report import SIMULATION_FORMAT
    from engine.simulation import REPORT_FORMAT

    assert SIMULATION_FORMAT == REPORT_FORMAT
    from api.cli.report import BATTERY_FORMAT
    from engine.battery_summary import REPORT_FORMAT as BATTERY_REPORT_FORMAT

    assert BATTERY_FORMAT == BATTERY_REPORT_FORMAT
    from api.cli.report import BANK_FORMAT
    from item_banks.io import FORMAT

    assert BANK_FORMAT == FORMAT


def test_calibrate_help_lists_the_registered_models() -> None:
    from api.cli.calibrate import MODEL_NAMES
    from item_banks.models import model_names

    assert MODEL_NAMES == model_names()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "Input should be greater than or equal to 1"),
        (["--limit", "x3"], "Input should be a valid integer"),
        (["--format", "xml"], "'xml' is not one of 'table', 'csv', 'json'"),
    ],
)
def test_values_the_plain_conversion_refuses_get_typers_messages(
    args: list[str], message: str
) -> None:
    """A value converted without pydantic is the same value; one that does not convert is
    handed to typer's own conversion, so its error message is typer's (pydantic's)."""
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(
        app, ["bank", "show", str(DEMO_BANK_PATH), *args], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    ok = CliRunner().invoke(app, ["bank", "show", str(DEMO_BANK_PATH), "--limit", "+2"])
    assert ok.exit_code == 0 and "... 248 more items" in ok.output
