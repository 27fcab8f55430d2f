"""A platform's first day: offline API docs, ``make run``'s port and keys, ``--version``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.cli.serve import choose_port
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_version_option():
    from importlib.metadata import version

    res = runner.invoke(cli, ["--version"])
    assert res.exit_code == 0
    assert res.stdout == f"zapcat {version('zapcat')}\n"


def test_gitignore_covers_what_runs_leave_behind():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    for entry in ("zapcat.db-wal", "zapcat.db-shm", ".hypothesis/", ".venv/"):
        assert entry in lines


def test_docs_page_and_assets_are_served_locally(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(Settings(f"sqlite:///{tmp_path / 'd.db'}"))) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        assert urls and all(u.startswith("/") for u in urls), urls
        assert "http" not in page.text.replace("http-equiv", "")  # names no outside host
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
        redoc = client.get("/redoc")
        assert redoc.status_code == 200 and "cdn" not in redoc.text.lower()


def _busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 8000 if _free(8000) else 0))
    sock.listen()
    return sock


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_port_choice(monkeypatch):
    monkeypatch.delenv("ZAPCAT_PORT", raising=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    taken = sock.getsockname()[1]
    try:
        with pytest.raises(Exception, match=f"port {taken} on 127.0.0.1 is already in use"):
            choose_port("127.0.0.1", taken)
        monkeypatch.setenv("ZAPCAT_PORT", str(taken))
        with pytest.raises(Exception, match="choose another port with --port or ZAPCAT_PORT"):
            choose_port("127.0.0.1", None)
        monkeypatch.setenv("ZAPCAT_PORT", "80x")
        with pytest.raises(Exception, match="ZAPCAT_PORT must be a TCP port number, got '80x'"):
            choose_port("127.0.0.1", None)
    finally:
        sock.close()
    monkeypatch.delenv("ZAPCAT_PORT")
    if not _free(8000):  # 8000 taken by something else: a free port is chosen and said
        port, note = choose_port("127.0.0.1", None)
        assert port != 8000 and note == f"port 8000 is in use, serving on port {port} instead"
        return
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 8000))
    blocker.listen()
    try:
        port, note = choose_port("127.0.0.1", None)
        assert port != 8000 and _free(port)
        assert note == f"port 8000 is in use, serving on port {port} instead"
    finally:
        blocker.close()


def _serve(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    zapcat = Path(sys.executable).with_name("zapcat")
    proc = subprocess.Popen(
        [str(zapcat), "serve", "--demo", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.lstrip().startswith("serving on http"):  # not the "port 8000 is in use" note
            break
    return proc, "".join(lines)


@pytest.mark.slow
def test_serve_demo_on_a_busy_port_picks_a_free_one_and_prints_the_url(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPCAT_")}
    env["COLUMNS"] = "200"
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        env["ZAPCAT_PORT"] = str(taken)  # an explicit port that is taken: clear error first
        proc, out = _serve(tmp_path, env)
        assert proc.wait(timeout=30) == 1
        assert f"port {taken} on 127.0.0.1 is already in use" in out
        assert "export ADMIN_KEY" not in out  # no keys printed for a server that cannot start
        del env["ZAPCAT_PORT"]
        proc, out = _serve(tmp_path, env)
        try:
            url = re.search(r"export ZAPCAT_URL=(\S+)", out).group(1)
            assert f"serving on {url} (API documentation {url}/docs)" in out
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            assert httpx.get(f"{url}/docs").status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        blocker.close()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with the project's standard flags."""
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_docs_render_in_headless_chromium_without_outside_hosts(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (.ci/run installs it: apt-get install chromium)")
    import threading

    import uvicorn

    from api.app import create_app

    application = create_app(Settings(f"sqlite:///{tmp_path / 'docs.db'}"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/docs"
        dom = headless(
            browser, tmp_path / "profile", "--virtual-time-budget=8000", "--dump-dom", url
        )
        html = dom.stdout
        # rendered by Swagger UI's scripts: the operations of the API appear in the page
        assert "swagger-ui" in html
        assert "/v1/sessions" in html and "/v1/banks" in html
        assert "opblock" in html  # one block per operation: not a blank page
        hosts = set(re.findall(r"""(?:src|href)=["']https?://([^/"']+)""", html))
        assert hosts <= {f"127.0.0.1:{port}"}, hosts
        shot = tmp_path / "docs.png"
        headless(
            browser, tmp_path / "profile2", "--window-size=1280,900",
            "--virtual-time-budget=8000", f"--screenshot={shot}", url,
        )  # fmt: skip
        assert shot.exists() and shot.stat().st_size > 20_000  # not a blank page
        keep = os.environ.get("ZAPCAT_SCREENSHOTS")
        if keep:
            shutil.copy(shot, Path(keep) / "docs.png")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_jupyter_is_usable_from_the_virtualenv():
    jupyter = Path(sys.executable).with_name("jupyter")
    assert jupyter.exists(), "the README sends users to Jupyter in .venv"
    for sub in ("nbconvert", "lab"):
        done = subprocess.run([str(jupyter), sub, "--version"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert re.match(r"\d+\.\d+", done.stdout.strip())
