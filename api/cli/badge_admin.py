"""``zapcat badge issue | revoke | rotate | issuer``: the service's badges, on its database.

The same services as the HTTP routes, run on the database named by ``--database-url`` or
``$ZAPCAT_DATABASE_URL``, with the key ``$ZAPCAT_SECRET_KEY`` (as ``zapcat keys`` does,
the tenant is named on the command line: these are administrator commands).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console, err_console, fail
from api.cli.keys import DatabaseUrl, open_database
from item_banks.errors import ZapcatError

# the service (SQLAlchemy, cryptography, PyLD) is imported when a command runs

Tenant = Annotated[str, typer.Option(help="Tenant whose badges these are.")]


def _settings():
    from api.settings import Settings

    return Settings.from_env()


def issue_command(
    session_id: Annotated[str, typer.Argument(help="A finished session.")],
    tenant: Tenant,
    skill: Annotated[str | None, typer.Option(help="Only this skill (default: every "
                                                   "skill whose level is met).")] = None,
    email: Annotated[str | None, typer.Option(help="The learner's email (hashed with a "
                                                   "salt in the badge).")] = None,
    include_email: Annotated[bool, typer.Option(help="Put the email in the clear (only "
                                                     "when the learner asks).")] = False,
    valid_days: Annotated[int | None, typer.Option(help="Days to validUntil; 0: no end "
                                                        "(default $ZAPCAT_BADGE_VALID_DAYS "
                                                        "or 1095).", min=0)] = None,
    public_url: Annotated[str | None, typer.Option(help="Base URL of the service, put in "
                                                        "the badge (default "
                                                        "$ZAPCAT_PUBLIC_URL).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder to write each signed badge "
                                                  "to (<badge id>.json).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue the Open Badges 3.0 credentials of a finished session (prints their ids)."""
    from api.services.badges import issue_badges

    settings = _settings()
    base = public_url or settings.public_url
    try:
        if not base:
            raise ZapcatError("give --public-url (or set ZAPCAT_PUBLIC_URL): the URL the "
                              "service is reached at, used in the badge's status list and "
                              "evidence")
        badges = issue_badges(
            open_database(database_url), secret=settings.secret_key, tenant=tenant,
            session_id=session_id, scope="admin", public_url=base,
            valid_days=settings.badge_valid_days if valid_days is None else valid_days,
            skill_id=skill, email=email, include_email=include_email)
    except ZapcatError as error:
        raise fail(error) from None
    for badge in badges:
        line = f"{badge['badge_id']}  {badge['skill_id']}: {badge['level']}"
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{badge['badge_id']}.json"
            path.write_text(json.dumps(badge["credential"], indent=1), encoding="utf-8")
            line += f"  -> {path}"
        console.print(line + ("" if badge["new"] else "  (issued before)"), highlight=False)


def revoke_command(
    badge_id: Annotated[str, typer.Argument(help="The badge id.")],
    tenant: Tenant,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a badge: its bit in the tenant's status list is set and the list re-signed."""
    from api.services.badges import revoke_badge

    try:
        view = revoke_badge(open_database(database_url), secret=_settings().secret_key,
                            tenant=tenant, badge_id=badge_id)
    except ZapcatError as error:
        raise fail(error) from None
    console.print(f"badge {badge_id} revoked at {view['revoked_at']} (status list "
                  f"{view['status_list']}, index {view['status_index']})", highlight=False)


def rotate_command(
    tenant: Tenant,
    algorithm: Annotated[list[str] | None, typer.Option(
        help="Ed25519 (badge proofs) or RSA (VC-JWT); repeat for both (the default).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """New signing keys for a tenant; the old ones retire but still verify their badges."""
    from api.services.badge_keys import ALGORITHMS, rotate_keys

    try:
        keys = rotate_keys(open_database(database_url), secret=_settings().secret_key,
                           tenant=tenant, algorithms=tuple(algorithm or ALGORITHMS))
    except ZapcatError as error:
        raise fail(error) from None
    for key in keys:
        state = f"retired {key['retired_at']}" if key["retired_at"] else "current"
        console.print(f"{key['key_id']}  {key['algorithm']:8}  {state}  "
                      f"{key['verification_method']}", highlight=False, soft_wrap=True)


def issuer_command(
    tenant: Tenant,
    name: Annotated[str | None, typer.Option(help="Issuer name shown in badges.")] = None,
    url: Annotated[str | None, typer.Option(help="Issuer home page (https://...).")] = None,
    domain: Annotated[str | None, typer.Option(
        help="Host name for did:web:<domain>:tenants:<tenant>; none: did:key.")] = None,
    description: Annotated[str, typer.Option(help="Issuer description.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Show a tenant's badge issuer, or set it with --name (and --url, --domain)."""
    from api.services.badge_issuers import get_issuer, set_issuer

    db = open_database(database_url)
    try:
        if name is None:
            if url or domain or description:
                raise ZapcatError("give --name to change the issuer (name, url, domain and "
                                  "description are set together)")
            view = get_issuer(db, tenant=tenant)
        else:
            view = set_issuer(db, tenant=tenant, name=name, url=url, domain=domain,
                              description=description)
    except ZapcatError as error:
        raise fail(error) from None
    typer.echo(json.dumps(view, indent=1))
    if view["did_document"]:
        err_console.print(f"serve the DID document at {view['did_document']} (this service "
                          f"answers GET /tenants/{tenant}/did.json)", highlight=False)
