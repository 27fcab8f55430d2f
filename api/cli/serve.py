"""``zapcat serve``: run the delivery service with uvicorn."""

from __future__ import annotations

import os
import socket
import tempfile
from typing import Annotated

import typer

from api.cli._common import console, fail
from api.cli.keys import DatabaseUrl, open_database
from item_banks.errors import ZapcatError

DEFAULT_PORT = 8000
DEMO_SECRET_FILE = "zapcat-demo.secret"
"""Where ``serve --demo`` keeps the ZAPCAT_SECRET_KEY it generated (git-ignored, mode 600)."""


def demo_secret(folder: str = ".") -> tuple[str, str]:
    """``$ZAPCAT_SECRET_KEY``, else the demo's own (made once, kept in DEMO_SECRET_FILE).

    Returns the secret and where it came from. Badges need the secret: it encrypts the
    tenants' signing keys, so the demo keeps it from one run to the next.
    """
    import secrets
    from pathlib import Path

    if os.environ.get("ZAPCAT_SECRET_KEY"):
        return os.environ["ZAPCAT_SECRET_KEY"], "$ZAPCAT_SECRET_KEY"
    path = Path(folder) / DEMO_SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip(), str(path)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value, f"{path} (new)"


def _port_free(host: str, port: int) -> bool:
    """Whether ``port`` can be bound on ``host`` now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(host: str, port: int | None) -> tuple[int, str]:
    """The port to serve on and a note saying how it was chosen.

    An explicit ``--port`` (or ``$ZAPCAT_PORT``) that is taken is an error, said before
    anything else happens; without one, 8000, or a free port when 8000 is taken.
    """
    env = os.environ.get("ZAPCAT_PORT", "").strip()
    if port is None and env:
        if not env.isdigit() or not 0 < int(env) < 65536:
            raise ZapcatError(f"ZAPCAT_PORT must be a TCP port number, got {env!r}")
        port = int(env)
    if port is not None:
        if not _port_free(host, port):
            raise ZapcatError(
                f"port {port} on {host} is already in use (another zapcat serve?): stop "
                "that server, or choose another port with --port or ZAPCAT_PORT"
            )
        return port, ""
    if _port_free(host, DEFAULT_PORT):
        return DEFAULT_PORT, ""
    chosen = _free_port(host)
    return chosen, f"port {DEFAULT_PORT} is in use, serving on port {chosen} instead"


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            help="TCP port (default $ZAPCAT_PORT, else 8000, else a free port when 8000 is taken).",
            min=1,
            max=65535,
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="uvicorn worker processes (use PostgreSQL for more than one).", min=1),
    ] = 1,
    database_url: DatabaseUrl = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Publish the demo bank, create a demo "
            "assessment and print an admin and a delivery key "
            "(tenant 'demo') before serving.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the HTTP delivery service (migrating the database schema first).

    The database is $ZAPCAT_DATABASE_URL (default a SQLite file zapcat.db in the current
    folder). Open http://HOST:PORT/docs for the API documentation.
    """
    import uvicorn

    from api.server import HTTP_PROTOCOL

    try:
        port, port_note = choose_port(host, port)
    except ZapcatError as error:
        raise fail(error) from None
    if database_url:
        os.environ["ZAPCAT_DATABASE_URL"] = database_url
    db = open_database(None)
    if workers > 1 and db.is_sqlite:
        console.print(
            "[yellow]note[/]: several workers on SQLite serialise every write; "
            "use PostgreSQL (ZAPCAT_DATABASE_URL) to scale out"
        )
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="zapcat-metrics-")
    if demo:
        from api.services.demo import setup_demo

        secret, source = demo_secret()
        os.environ["ZAPCAT_SECRET_KEY"] = secret  # the workers read it (badge keys)
        try:
            info = setup_demo(db)
        except ZapcatError as error:
            raise fail(error) from None
        base = f"http://{host}:{port}"
        console.print(
            f"[bold]demo[/]: bank {info['bank']} v{info['bank_version']}, "
            f"assessment {info['assessment_id']}",
            highlight=False,
        )
        console.print(f"export ZAPCAT_URL={base}", highlight=False)
        console.print(f"export ADMIN_KEY={info['admin_key']}", highlight=False)
        console.print(f"export DELIVER_KEY={info['deliver_key']}", highlight=False)
        console.print(f"export ASSESSMENT={info['assessment_id']}", highlight=False)
        console.print(f"export ZAPCAT_SECRET_KEY={secret}  # demo secret from {source}: "
                      "it encrypts the badge signing keys; never commit it", highlight=False,
                      soft_wrap=True)
        console.print(f"export BATTERY={info['battery_assessment_id']}  # coding, project "
                      "management, design (simulated banks)", highlight=False)  # fmt: skip
        console.print(f"export PRACTICE={info['practice_assessment_id']}  # a practice test: "
                      "each answer's reply says if it was right, with the item's "
                      "explanation and your level so far", highlight=False)  # fmt: skip
        cat = info["catalogue"]
        console.print(
            "after a battery session SESSION has finished, the learner's report and "
            f"recommendations (catalogue {cat['name']} v{cat['version']}; roles "
            "junior-developer, project-coordinator, ux-designer):\n"
            '  curl -H "Authorization: Bearer $DELIVER_KEY" -H "Accept: text/html" '
            f'"$ZAPCAT_URL/v1/sessions/$SESSION/report?catalogue={cat["name"]}'
            f'&version={cat["version"]}&role=junior-developer" > report.html\n'
            '  curl -X POST -H "Authorization: Bearer $ADMIN_KEY" '
            '"$ZAPCAT_URL/v1/sessions/$SESSION/badges"  # Open Badges of the met levels\n'
            '  curl -H "Authorization: Bearer $DELIVER_KEY" -H "Content-Type: application/json" '
            f'-d \'{{"catalogue": "{cat["name"]}", "version": {cat["version"]}, '
            '"role": "junior-developer"}\' "$ZAPCAT_URL/v1/sessions/$SESSION/recommendations"',
            highlight=False, soft_wrap=True)
    db.dispose()
    if port_note:
        console.print(f"[yellow]note[/]: {port_note}", highlight=False)
    url = f"http://{host}:{port}"
    console.print(
        f"serving on [bold]{url}[/] (API documentation {url}/docs); Ctrl+C stops it",
        highlight=False,
    )
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        http=HTTP_PROTOCOL,
    )
