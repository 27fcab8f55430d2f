"""uvicorn glue: the HTTP protocol class of ``zapcat serve`` and a subprocess launcher.

With ``--workers N`` uvicorn binds the listening socket itself with
``socket.socket(family)``, whose ``proto`` is 0; asyncio then does not set
``TCP_NODELAY`` on accepted connections (it only does for ``proto == IPPROTO_TCP``),
and every keep-alive response waits for the client's delayed ACK: about 40 ms per
request. :class:`NoDelayH11Protocol` sets ``TCP_NODELAY`` on every connection.
Use it with ``uvicorn --http api.server:NoDelayH11Protocol``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from uvicorn.protocols.http.h11_impl import H11Protocol

HTTP_PROTOCOL = "api.server:NoDelayH11Protocol"
"""Value of uvicorn's ``http`` option."""


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` set on each TCP connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not a TCP socket after all
                pass
        super().connection_made(transport)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A ``uvicorn`` subprocess serving Zapcat; stop it with :meth:`stop` or ``with``.

    Attributes
    ----------
    process : subprocess.Popen
        The uvicorn parent process, leader of its own process group.
    url : str
        Base URL, for example ``"http://127.0.0.1:8123"``.
    log_path : Path
        File receiving the server's stdout and stderr.
    """

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` to the whole process group (workers too) and wait; return the code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=timeout)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
            return int(reply.status) == 200
    except (OSError, ValueError):
        return False


def start_server(
    database_url: str,
    *,
    log_path: Path,
    port: int | None = None,
    workers: int = 1,
    access_log: bool = True,
    timeout: float = 60.0,
) -> ServerProcess:
    """Start the service under uvicorn on loopback and wait until ``/health`` answers 200.

    Used by the crash-restart test, the load benchmark and the delivery notebook, so that
    all of them run the service exactly as ``zapcat serve`` configures uvicorn.

    Parameters
    ----------
    database_url : str
        SQLAlchemy URL of the service's database (schema migrated at start-up).
    log_path : Path
        The server's output is appended there.
    port : int, optional
        Loopback port; a free one when omitted.
    workers : int, default 1
        uvicorn worker processes (several need PostgreSQL to scale; each gets the shared
        Prometheus multi-process directory).
    access_log : bool, default True
    timeout : float, default 60
        Seconds to wait for ``/health``.

    Returns
    -------
    ServerProcess

    Raises
    ------
    RuntimeError
        When the server exits or stays unhealthy; the message ends with its log.
    """
    port = port or free_port()
    env = {**os.environ, "ZAPCAT_DATABASE_URL": database_url}
    if workers > 1 and not env.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="zapcat-metrics-")
    command = [
        sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--http", HTTP_PROTOCOL,
    ]  # fmt: skip
    if not access_log:
        command.append("--no-access-log")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(server.url):
            return server
        if process.poll() is not None:
            break
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"the service on {server.url} did not become healthy:\n{tail}")
