"""``zapcat battery``: show and simulate skill batteries; ``calibrate --skills`` helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli._common import console, err_console, fail
from item_banks.errors import CalibrationError, ZapcatError

app = typer.Typer(help="Skill batteries: several skills in one adaptive session.",
                  no_args_is_help=True)  # fmt: skip

if TYPE_CHECKING:
    import numpy as np

    from calibration.data import ResponseData
    from engine.battery import BatteryPlan

# the libraries (numpy, pandas, the engine, calibration) are imported when a command runs


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="A zapcat-battery/1 file.", show_default=False)],
) -> None:
    """Print a battery: its sections, banks, stopping rules, levels and correlations."""
    from rich.table import Table

    from engine.battery import load_battery

    try:
        plan = load_battery(path)
    except ZapcatError as error:
        raise fail(error) from None
    b = plan.battery
    console.print(f"[bold]{b.name}[/] version {b.version}: {b.description}", highlight=False)
    console.print(f"order {b.order}; budget {plan.budget} items; z = {b.z}", highlight=False)
    table = Table("skill", "name", "bank", "items", "SE target", "items min-max",
                  "collateral", "levels (theta cuts)")  # fmt: skip
    for k, sec in enumerate(b.sections):
        cfg, bank = plan.configs[k], plan.banks[k]
        coll = f"borrows, min {sec.collateral_min_items}" if plan.borrows[k] else "no"
        levels = ", ".join(lv.name + ("" if lv.theta_cut is None else f" ({lv.theta_cut:g})")
                           for lv in sec.levels) or "-"  # fmt: skip
        table.add_row(
            sec.skill_id,
            sec.name,
            f"{bank.name} v{bank.version}",
            str(len(bank)),
            str(cfg.stop_se),
            f"{cfg.min_items}-{cfg.max_items}",
            coll,
            levels,
        )
    console.print(table)
    if b.correlations is not None:
        corr = Table("", *b.skill_ids, title="latent correlations")
        for k, skill in enumerate(b.skill_ids):
            corr.add_row(skill, *(f"{v:.3f}" for v in b.correlations[k]))
        console.print(corr)


def replay_matrices(plan: BatteryPlan, data: ResponseData) -> list[np.ndarray]:
    """Per section the learners' observed categories, -1 missing.

    Categories are those of :func:`calibration.read_responses` (each item's observed codes
    in increasing order, 0 first), the categories of a bank calibrated from such a file.
    """
    import numpy as np

    index = {i: j for j, i in enumerate(data.item_ids)}
    codes = data.to_matrix()
    out, missing = [], []
    for bank in plan.banks:
        m = np.full((data.n_persons, len(bank)), -1, dtype=np.intp)
        for c, item_id in enumerate(bank.item_ids):
            j = index.get(item_id)
            if j is None:
                missing.append(item_id)
                continue
            m[:, c] = codes[:, j]
        out.append(m)
    if len(missing) == sum(len(b) for b in plan.banks):
        raise CalibrationError("the replay file has none of the battery's items "
                               f"(for example {missing[0]!r})")  # fmt: skip
    return out


def full_data_eap(plan: BatteryPlan, matrices: list[np.ndarray]) -> np.ndarray:
    """Each learner's EAP per skill from all its observed responses, shape (N, K)."""
    import numpy as np

    from engine.ability import get_estimator

    cols = []
    for bank, m in zip(plan.banks, matrices, strict=True):
        theta, _ = get_estimator("eap").estimate_many(bank, m)
        cols.append(theta)
    return np.stack(cols, axis=1)


@app.command("simulate")
def simulate(
    path: Annotated[Path, typer.Argument(help="A zapcat-battery/1 file.", show_default=False)],
    n: Annotated[int, typer.Option("--n", help="Simulated learners.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of abilities, tests and answers.")] = 0,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Replay real learners: a wide response file (one row per "
            "learner, one column per item id of the banks); an item a learner "
            "did not answer is never given to it."
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            help="Also run without the collateral prior and on flat profiles (false-label rate)."
        ),
    ] = True,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Report JSON to write.")] = None,
) -> None:
    """Simulate (or replay) learners through a battery and report per skill."""
    import numpy as np
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from calibration.data import read_responses
    from engine.battery import load_battery
    from engine.battery_sim import simulate_battery
    from engine.battery_summary import summarize_battery

    try:
        plan = load_battery(path)
        plain = load_battery(path, collateral=False)
        matrices = reference = None
        if replay is not None:
            matrices = replay_matrices(plan, read_responses(replay))
            reference = full_data_eap(plan, matrices)
        columns = (TextColumn("simulating"), BarColumn(), TaskProgressColumn(),
                   TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("simulate", total=1)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            sim = simulate_battery(plan, n=n, seed=seed, replay=matrices, progress=tick)
        without = flat = None
        if compare:
            truth = None if matrices is not None else sim.true_theta
            without = simulate_battery(plain, true_theta=truth, replay=matrices, seed=seed)
            common = np.random.default_rng(seed + 1).normal(size=n)
            flat = simulate_battery(plan, true_theta=np.repeat(common[:, None], plan.k, 1),
                                    seed=seed + 1)  # fmt: skip
        data = summarize_battery(plan, sim, reference=reference, without=without, flat=flat,
                                 seed=seed)  # fmt: skip
    except ZapcatError as error:
        raise fail(error) from None
    _print_summary(data)
    if out is not None:
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote report to {out}")


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _print_summary(data: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"{data['n']} learners{' (replay)' if data['replay'] else ''}, "
                  f"{data['items']['mean']:.1f} items on average, "
                  f"{data['simulees_per_second']:.0f} learners/s", highlight=False)  # fmt: skip
    table = Table("skill", "items", "mean SE", "bias", "RMSE", "corr", "PRMSE sub",
                  "PRMSE total", "added value")  # fmt: skip
    for s in data["skills"]:
        table.add_row(s["skill_id"], f"{s['mean_items']:.1f}", _fmt(s["mean_se"]),
                      _fmt(s.get("bias")), _fmt(s.get("rmse")), _fmt(s.get("correlation")),
                      _fmt(s.get("reliability", s["prmse_subscore"])),
                      _fmt(s.get("prmse_total_true", s["prmse_total"])),
                      "yes" if s["added_value"] else "no")  # fmt: skip
    console.print(table)
    if "collateral" in data:
        c = data["collateral"]
        console.print(
            f"collateral prior: {c['mean_items_with']:.1f} items with, "
            f"{c['mean_items_without']:.1f} without",
            highlight=False,
        )
    if "false_labels" in data:
        f = data["false_labels"]
        console.print(f"flat profiles: {f['per_skill']:.3f} of skills labelled "
                      f"(strength {f['per_skill_strength']:.3f}, area "
                      f"{f['per_skill_area']:.3f}); {f['per_learner']:.3f} of learners "
                      f"given a label", highlight=False)  # fmt: skip


def read_skills(path: Path) -> dict[str, str]:
    """Read ``item_id,skill`` rows; every problem named with its row."""
    import pandas as pd

    if not path.is_file():
        raise CalibrationError(f"skills file not found: {str(path)!r}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"item_id", "skill"} <= set(frame.columns):
        raise CalibrationError(f"{path}: needs columns item_id and skill, got "
                               f"{', '.join(frame.columns)}")  # fmt: skip
    out: dict[str, str] = {}
    problems = []
    for row, (item, skill) in enumerate(zip(frame["item_id"], frame["skill"], strict=True), 2):
        item, skill = item.strip(), skill.strip()
        if not item or not skill:
            problems.append(f"row {row}: empty item_id or skill")
        elif item in out and out[item] != skill:
            problems.append(f"row {row}: item {item!r} is given two skills "
                            f"({out[item]!r}, {skill!r})")  # fmt: skip
        else:
            out[item] = skill
    if problems:
        raise CalibrationError(f"{path}: " + "; ".join(problems[:20]),
                               details={"problems": problems})  # fmt: skip
    return out


def calibrate_to_battery(data: ResponseData, skills: Path, out_battery: Path, model: str,
                         options: dict[str, Any], name: str) -> None:  # fmt: skip
    """``zapcat calibrate --skills``: banks beside the battery file, then the battery."""
    from rich.table import Table

    from calibration.battery import calibrate_battery
    from item_banks.io import write_bank

    options = {k: v for k, v in options.items() if k != "fixed" or v is not None}
    res = calibrate_battery(data, read_skills(skills), model, **options)
    out_battery.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    for skill, bank in res.banks.items():
        file = f"{out_battery.stem}-{skill}.json"
        write_bank(bank, out_battery.parent / file)
        paths[skill] = file
        console.print(f"wrote {len(bank)} items of skill {skill!r} to "
                      f"{out_battery.parent / file}")  # fmt: skip
    battery = res.battery_dict(name, paths)
    out_battery.write_text(json.dumps(battery, indent=1) + "\n", encoding="utf-8")
    table = Table("skill", *res.skills, title="latent correlations (SE)")
    for a, skill in enumerate(res.skills):
        table.add_row(
            skill,
            *(
                f"{res.correlations[a, b]:.3f} ({res.correlation_se[a, b]:.3f})" if a != b else "1"
                for b in range(len(res.skills))
            ),
        )
    console.print(table)
    console.print(f"wrote battery to {out_battery}")


__all__ = ["app", "calibrate_to_battery", "read_skills", "replay_matrices"]
