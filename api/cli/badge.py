"""``zapcat badge verify FILE``: check a signed Open Badges 3.0 credential offline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli import badge_admin as _badge_admin
from api.cli._common import console, err_console

# the JSON-LD, signature and JWT libraries are imported when the command runs

app = typer.Typer(
    help="Open Badges 3.0 credentials: verify offline; issue, revoke, rotate keys.",
    no_args_is_help=True,
)


def _die(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _read(path: Path, what: str) -> dict[str, Any] | str:
    """A JSON credential (dict) or a compact JWS (str) from ``path``."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _die(f"{path}: cannot read the {what} ({exc})") from None
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _die(f"{path}: the {what} is not valid JSON ({exc})") from None
    if text.count(".") == 2 and " " not in text:
        return text
    raise _die(f"{path}: the {what} is neither a JSON object nor a compact JWT (a.b.c)")


def _list_url(document: dict[str, Any] | str, path: Path) -> str:
    if isinstance(document, str):
        from guidance.badges.errors import BadgeError
        from guidance.badges.jwt import unverified_payload

        try:
            document = unverified_payload(document)
        except BadgeError as exc:
            raise _die(f"{path}: {exc.message}") from None
    url = document.get("id")
    if not isinstance(url, str):
        raise _die(f"{path}: the status list credential has no 'id' (its statusListCredential URL)")
    return url


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _die(f"--at {value!r} is not an ISO 8601 date-time (2026-06-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        raise _die(f"--at {value!r} has no time zone; add Z or +hh:mm")
    return moment


def _jwt_keys(paths: list[Path]) -> list[Any]:
    """Trusted RSA public keys from JWK (JSON) or PEM files."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys: list[Any] = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise _die(f"{path}: cannot read the key ({exc})") from None
        if raw.lstrip().startswith(b"{"):
            try:
                keys.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise _die(f"{path}: the JWK is not valid JSON ({exc})") from None
            continue
        try:
            key = load_pem_public_key(raw)
        except ValueError as exc:
            raise _die(f"{path}: neither a JWK nor a PEM public key ({exc})") from None
        if not isinstance(key, RSAPublicKey):
            raise _die(f"{path}: an RSA public key is needed for RS256")
        keys.append(key)
    return keys


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The credential: signed JSON, or a VC-JWT file.")],
    public_key: Annotated[
        str | None,
        typer.Option(help="publicKeyMultibase of the issuer, when its key is not a did:key."),
    ] = None,
    status_list: Annotated[
        list[Path] | None,
        typer.Option(
            "--status-list",
            metavar="FILE",
            help="A signed status list credential (JSON or JWT) the badge points at; repeatable. "
            "Nothing is fetched: without it the status is not_checked.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            metavar="DATETIME",
            help="Check the dates as of this ISO 8601 time (default: now), e.g. "
            "2026-06-01T12:00:00Z.",
        ),
    ] = None,
    jwk: Annotated[
        list[Path] | None,
        typer.Option(
            "--jwk",
            metavar="FILE",
            help="A trusted RSA public key of the issuer (JWK JSON or PEM), for a "
            "VC-JWT; repeatable.",
        ),
    ] = None,
    require_status: Annotated[
        bool, typer.Option(help="Fail when a status list is not given (instead of a warning).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check the proof, the validity dates and the status; exit 1 when not verified."""
    document = _read(file, "credential")
    lists = {_list_url(doc, p): doc for p in status_list or [] for doc in [_read(p, "status list")]}
    moment = _at(at)

    from guidance.badges.errors import BadgeError
    from guidance.badges.multikey import load_public, public_from_did_key

    try:
        key = load_public(public_key) if public_key else None
    except BadgeError as exc:
        raise _die(f"--public-key: {exc.message}") from None
    resolve = (lambda _method: key) if key is not None else public_from_did_key
    options = {"now": moment, "resolve": resolve, "status_resolver": lists.get,
               "require_status": require_status}  # fmt: skip
    if isinstance(document, str):
        from guidance.badges.jwt import trusted_keys, verify_jwt

        try:
            keys = trusted_keys(_jwt_keys(jwk or []))
        except BadgeError as exc:
            raise _die(f"--jwk: {exc.message}") from None
        result = verify_jwt(document, keys=keys, **options)
    else:
        from guidance.badges.verify import verify_credential

        result = verify_credential(document, **options)
    if as_json:
        console.print_json(json.dumps(result))
    else:
        console.print(
            f"format: {'VC-JWT (RS256)' if isinstance(document, str) else 'eddsa-rdfc-2022'}"
        )
        for name, state in result["checks"].items():
            console.print(f"{name}: {state}")
        for err in result["errors"]:
            console.print(f"[red]{err['code']}[/red]: {err['message']}", highlight=False)
        for warn in result["warnings"]:
            console.print(f"[yellow]warning {warn['code']}[/yellow]: {warn['message']}",
                          highlight=False)  # fmt: skip
        console.print("verified" if result["verified"] else "[red]NOT verified[/red]")
    raise typer.Exit(0 if result["verified"] else 1)


# the commands that use the service database (issuer keys, revocation lists)
app.command("issue")(_badge_admin.issue_command)
app.command("revoke")(_badge_admin.revoke_command)
app.command("rotate")(_badge_admin.rotate_command)
app.command("issuer")(_badge_admin.issuer_command)
