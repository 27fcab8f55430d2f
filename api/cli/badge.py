"""``zapcat badge verify FILE``: check a signed Open Badges 3.0 credential offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console

# the JSON-LD and signature libraries are imported when the command runs

app = typer.Typer(help="Open Badges 3.0 credentials: verify offline; issue, revoke, rotate keys.",
                  no_args_is_help=True)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The signed credential (JSON).")],
    public_key: Annotated[
        str | None,
        typer.Option(help="publicKeyMultibase of the issuer, when its key is not a did:key."),
    ] = None,
) -> None:
    """Check the proof (eddsa-rdfc-2022) and the validity dates; exit 1 when not verified."""
    from guidance.badges.multikey import load_public
    from guidance.badges.verify import verify_credential

    try:
        credential = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        console.print(f"[red]error:[/red] {file}: cannot read the credential ({exc})")
        raise typer.Exit(1) from None
    resolve = (lambda _method: load_public(public_key)) if public_key else None
    result = verify_credential(credential, **({"resolve": resolve} if resolve else {}))
    for name, state in result["checks"].items():
        console.print(f"{name}: {state}")
    for err in result["errors"]:
        console.print(f"[red]{err['code']}[/red]: {err['message']}")
    console.print("verified" if result["verified"] else "[red]NOT verified[/red]")
    raise typer.Exit(0 if result["verified"] else 1)
