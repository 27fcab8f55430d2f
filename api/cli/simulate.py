"""``zapcat simulate``: run simulees through adaptive tests on a bank and report."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli._common import console, err_console, fail
from item_banks.errors import InvalidConfigError, ZapcatError

if TYPE_CHECKING:
    from engine.config import CATConfig

# the engine (scipy) and rich's progress bars are imported when the command runs

class Classification(StrEnum):
    """Classification stopping rules."""

    sprt = "sprt"
    ci = "ci"


def _build_config(config_path: Path | None, overrides: dict[str, Any], bank) -> CATConfig:
    from engine.config import CATConfig

    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            data = json.loads(config_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise fail(InvalidConfigError([f"cannot read {config_path}: {error}"])) from None
        if not isinstance(data, dict):
            raise fail(InvalidConfigError([f"{config_path}: expected a JSON object"]))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return CATConfig.from_dict(data, bank=bank)
    except ZapcatError as error:
        raise fail(error) from None


def simulate_command(
    bank_path: Annotated[
        Path, typer.Argument(help="Item bank file (zapcat-bank/1 JSON or CSV).", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Write the JSON report here.", show_default=False)
    ],
    n: Annotated[
        int, typer.Option("--n", help="Number of simulees, theta ~ N(0, 1).", min=1)
    ] = 1000,
    config_path: Annotated[
        Path | None,
        typer.Option("--config", help="CATConfig as JSON (options below override its keys)."),
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option(
            help="Item selector registered in engine.selection: mfi (default), kl, mepv, mpwi, "
            "a_stratified, shadow; an unknown name is refused with the registered ones."
        ),
    ] = None,
    estimator: Annotated[
        str | None,
        typer.Option(
            help="Ability estimator registered in engine.ability: eap (default), map, ml, wle."
        ),
    ] = None,
    stop_se: Annotated[
        float | None, typer.Option("--stop-se", help="Stop at SE <= this (default 0.3).")
    ] = None,
    no_se_stop: Annotated[
        bool, typer.Option("--no-se-stop", help="No SE rule (fixed length or classification).")
    ] = False,
    min_items: Annotated[int | None, typer.Option(help="Minimum scored items (default 1).")] = None,
    max_items: Annotated[
        int | None, typer.Option(help="Maximum scored items (default 40).")
    ] = None,
    cut_score: Annotated[
        list[float] | None,
        typer.Option("--cut-score", help="Cut score for classification (repeat for several)."),
    ] = None,
    classification: Annotated[
        Classification | None,
        typer.Option(help="Stop when classified: sprt or ci (needs --cut-score)."),
    ] = None,
    randomesque: Annotated[
        int | None, typer.Option(help="Pick at random among the best k items (default 1).")
    ] = None,
    exposure_target: Annotated[
        float | None,
        typer.Option(help="Fit Sympson-Hetter to this maximum exposure rate first (0-1]."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of abilities, tests and responses.")] = 0,
    sequential: Annotated[
        bool,
        typer.Option(
            "--sequential",
            help="Run simulees one by one through the live session code instead of "
            "vectorised batches (same results, slower).",
        ),
    ] = False,
) -> None:
    """Simulate adaptive tests on BANK and write a JSON report.

    Prints mean test length, bias and RMSE (overall and by band of true theta), item
    exposure, test overlap, blueprint compliance and classification accuracy.
    """
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from engine.exposure import fit_sympson_hetter
    from engine.simulation import report, simulate
    from item_banks.io import read_bank

    try:
        bank = read_bank(bank_path)
    except ZapcatError as error:
        raise fail(error) from None
    held = [it.item_id for it in bank if not it.usable]
    if held:
        shown = ", ".join(held[:10]) + (" ..." if len(held) > 10 else "")
        err_console.print(
            f"note: {len(held)} flagged item(s) are not administered ({shown}): their "
            "calibration ran off; zapcat bank accept BANK --item ID lets the engine give them",
            highlight=False,
            soft_wrap=True,
        )
    overrides = {
        "selector": selector,
        "estimator": estimator,
        "stop_se": stop_se,
        "min_items": min_items,
        "max_items": max_items,
        "cut_scores": list(cut_score) if cut_score else None,
        "classification": classification.value if classification else None,
        "randomesque": randomesque,
    }
    config = _build_config(config_path, overrides, bank)
    if no_se_stop:
        config = config.replace(stop_se=None)
    if exposure_target is not None:
        if not 0 < exposure_target <= 1:
            raise fail(InvalidConfigError([f"--exposure-target must be in (0, 1], "
                                           f"got {exposure_target}"]))  # fmt: skip
        err_console.print(f"fitting Sympson-Hetter to a maximum exposure of {exposure_target} ...")
        config = fit_sympson_hetter(bank, config, target=exposure_target, seed=seed + 1000).config
    columns = (TextColumn("simulating"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("simulate", total=n)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done)

            result = simulate(bank, config, n=n, seed=seed, batch=not sequential, progress=advance)
    except ZapcatError as error:
        raise fail(error) from None
    rep = report(result, bank, config)
    warning = None
    if exposure_target is not None:
        warning = exposure_check(rep, exposure_target)
    out.write_text(json.dumps(rep, indent=2))
    _print_summary(rep)
    if warning:
        err_console.print(f"[bold yellow]warning[/]: {warning}", highlight=False, soft_wrap=True)
    console.print(f"report written to {out}")


def exposure_check(rep: dict[str, Any], target: float) -> str | None:
    """Record the exposure target in the report; the warning to print when it was missed."""
    exposure = rep["exposure"]
    rates = exposure.get("rates", {})
    worst = max(rates, key=rates.get) if rates else None
    over = sorted((i for i, r in rates.items() if r > target), key=lambda i: -rates[i])
    reached = exposure["max"] <= target
    exposure["target"] = target
    exposure["target_reached"] = reached
    exposure["items_over_target"] = over
    if reached:
        return None
    return (
        f"the exposure target {target:g} was not reached: the maximum exposure is "
        f"{exposure['max']:.3f} (item {worst}), and {len(over)} item(s) are above the target "
        f"({', '.join(over[:5])}{' ...' if len(over) > 5 else ''}). Sympson-Hetter cannot "
        "hold every item under the target when the bank has too few comparable items for "
        "the test length: add items, shorten the test (--max-items), or pick among more "
        "items (--randomesque)"
    )


def _print_summary(rep: dict[str, Any]) -> None:
    from rich.table import Table

    length = rep["test_length"]
    table = Table(title=f"{rep['n_simulees']} simulees on {rep['bank']['name']}", show_header=False)
    table.add_row(
        "mean length (sd, min-max)",
        f"{length['mean']:.2f} ({length['sd']:.2f}, {length['min']}-{length['max']})",
    )
    table.add_row("bias / RMSE", f"{rep['bias']:+.3f} / {rep['rmse']:.3f}")
    table.add_row("mean SE", f"{rep['mean_se']:.3f}")
    exp = rep["exposure"]
    table.add_row("max exposure / unused items", f"{exp['max']:.3f} / {exp['n_unused']}")
    table.add_row("test overlap", f"{rep['overlap']:.3f}")
    if "blueprint" in rep:
        table.add_row(
            "content / enemy compliance",
            f"{rep['blueprint']['content']:.1%} / {rep['blueprint']['enemies']:.1%}",
        )
    if "classification" in rep:
        table.add_row("classification accuracy", f"{rep['classification']['accuracy']:.3f}")
    table.add_row("stop reasons", ", ".join(f"{k} {v}" for k, v in rep["stop_reasons"].items()))
    table.add_row("simulees per second", f"{rep['simulees_per_second']:.0f}")
    console.print(table)
    band = Table(title="conditional bias and RMSE by true theta")
    for col in ("band", "n", "bias", "RMSE", "mean length"):
        band.add_column(col)
    for entry in rep["conditional"]:
        lo, hi = entry["band"]
        label = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi})"
        if entry["n"]:
            band.add_row(label, str(entry["n"]), f"{entry['bias']:+.3f}", f"{entry['rmse']:.3f}",
                         f"{entry['mean_length']:.1f}")  # fmt: skip
    console.print(band)
