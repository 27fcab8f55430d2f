"""``zapcat recommend``: gap analysis and credential recommendations for a profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli._common import console, fail
from item_banks.errors import ZapcatError

# the engine and guidance are imported when the command runs


def read_profile(path: Path) -> dict[str, Any]:
    """A profile JSON: the profile itself, or a session result / report holding one."""
    from guidance.gaps import GuidanceError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GuidanceError(f"{path}: cannot read the profile ({exc})") from None
    for key in ("profile", "result"):
        if isinstance(data, dict) and isinstance(data.get(key), dict) and "skills" in data[key]:
            data = data[key]
    if not isinstance(data, dict) or "skills" not in data:
        raise GuidanceError(
            f"{path}: not a profile (no 'skills' list); give the profile "
            "of a finished battery session"
        )
    return data


def resolve_battery(profile: dict[str, Any], battery: Path | None) -> Path:
    """The battery whose levels the profile's skills use (the demo battery when they match)."""
    from engine.battery import load_battery
    from guidance.gaps import GuidanceError
    from item_banks.examples.battery_demo import DEMO_BATTERY_PATH

    if battery is not None:
        return battery
    skills = sorted(s.get("skill_id") for s in profile["skills"])
    demo = load_battery(DEMO_BATTERY_PATH)
    if skills == sorted(demo.skill_ids):
        return DEMO_BATTERY_PATH
    raise GuidanceError(
        f"the profile's skills ({', '.join(map(str, skills))}) are not the "
        "demo battery's: give the battery file with --battery BATTERY.json"
    )


def recommend_command(
    profile_path: Annotated[
        Path,
        typer.Argument(
            metavar="PROFILE.json",
            help="A battery profile (or session result).",
            show_default=False,
        ),
    ],
    catalogue: Annotated[
        Path,
        typer.Option("--catalogue", help="A zapcat-catalogue/1 file: JSON, or its CSV table "
                     "(.csv).", show_default=False),
    ],
    role: Annotated[
        str, typer.Option("--role", help="role_id of the target role.", show_default=False)
    ],
    battery: Annotated[
        Path | None,
        typer.Option(
            "--battery",
            help="The zapcat-battery/1 file the profile came from (its levels and "
            "banks); default: the demo battery when the skills match.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result.")] = False,
) -> None:
    """Gap analysis against ROLE and the credentials that close the gaps, ranked."""
    from rich.table import Table

    from engine.battery import load_battery
    from engine.config import pool_status
    from guidance.catalogue import read_catalogue
    from guidance.gaps import information_from_banks, levels_from_sections, recommend

    try:
        prof = read_profile(profile_path)
        plan = load_battery(resolve_battery(prof, battery))
        cat = read_catalogue(catalogue)
        out = recommend(
            prof,
            levels_from_sections(plan.sections),
            cat,
            role,
            information=information_from_banks(dict(zip(plan.skill_ids, plan.banks, strict=True)),
                                               status=pool_status(plan.configs[0].mode)),
        )
    except ZapcatError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    console.print(f"[bold]{out['role']['title']}[/] ({out['role']['role_id']})", highlight=False)
    gaps = Table("skill", "required level", "importance", "P(met)", "status", "next")
    for g in out["gaps"]:
        nxt = g.get("extend_section", {}).get("message", "")
        gaps.add_row(
            g["skill_id"],
            g["required_level"],
            str(g["importance"]),
            f"{g['p_met']:.2f}",
            g["status"],
            nxt,
        )
    console.print(gaps)
    if not out["recommendations"]:
        console.print(
            "No credential needed: every requirement is met or still uncertain "
            "(extend the uncertain sections first).",
            highlight=False,
        )
    recs = Table("#", "credential", "provider", "hours", "score", "why")
    for r in out["recommendations"]:
        recs.add_row(
            str(r["rank"]),
            f"{r['title']} ({r['credential_id']})",
            r["provider"],
            "" if r["hours"] is None else f"{r['hours']:g}",
            f"{r['score']:.2f}",
            r["why"],
        )
    if out["recommendations"]:
        console.print(recs)
    for nr in out["not_ready"]:
        console.print(f"not ready yet: {nr['title']} ({nr['credential_id']})", highlight=False)


__all__ = ["read_profile", "recommend_command", "resolve_battery"]
