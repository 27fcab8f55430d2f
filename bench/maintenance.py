"""Benchmarks of bank maintenance: response export, online calibration, the whole loop.

    .venv/bin/python bench/maintenance.py export --responses 5000000
    .venv/bin/python bench/maintenance.py calibrate --examinees 50000
    .venv/bin/python bench/maintenance.py loop --examinees 5000

``export``: a SQLite service database holding N responses of CAT sessions (simulated by
the engine, 20 items per test of which 3 pretest, written straight into the tables) is
exported by ``zapcat responses export`` as CSV and as Parquet, each in a fresh process;
wall time and peak resident memory (``getrusage`` of the child) are reported for N and
N / 5 (constant memory: the peak does not grow with N).

``calibrate``: ``zapcat calibrate EXPORT --anchors BANK --pretest-only`` (MEM) and the
OEM in fresh processes on the export of a CAT simulation, with the accuracy of the
pretest estimates against the true values (coverage of the 95% intervals, RMSE).

``loop``: the whole loop through the service in-process (httpx on the ASGI app, 8
examinees at a time, SQLite):
publish, N examinees over HTTP with pretest seeding, export, MEM and OEM, coverage and
RMSE against the truth, and each stage's time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.db import Database  # noqa: E402
from api.models import Response, TestSession  # noqa: E402
from api.services.assessments import create_assessment  # noqa: E402
from api.services.banks import publish_bank  # noqa: E402
from api.settings import Settings  # noqa: E402
from engine.config import CATConfig  # noqa: E402
from engine.simulation import simulate  # noqa: E402
from item_banks.bank import Item, ItemBank  # noqa: E402
from item_banks.io import bank_to_json  # noqa: E402

ZAPCAT = str(Path(sys.executable).parent / "zapcat")


def make_banks(n_op: int, n_pre: int, seed: int) -> tuple[ItemBank, ItemBank]:
    """(published bank with provisional pretest values, bank with the true values)."""
    rng = np.random.default_rng(seed)
    op = [
        Item(f"op{j:04d}", "2pl", {"a": float(rng.uniform(0.8, 2.2)), "b": float(rng.normal())})
        for j in range(n_op)
    ]
    true = [
        Item(
            f"pt{j:03d}",
            "2pl",
            {"a": float(rng.uniform(0.8, 2.0)), "b": float(rng.normal(0.3, 0.8))},
            status="pretest",
        )
        for j in range(n_pre)
    ]
    prov = [Item(t.item_id, "2pl", {"a": 1.0, "b": 0.0}, status="pretest") for t in true]
    return ItemBank(op + prov, name="live"), ItemBank(op + true, name="truth")


def child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command in a fresh process: (seconds, peak RSS in MB, stdout)."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'s': dt, 'rss': rss, 'rc': done.returncode, 'out': done.stdout,"
        " 'err': done.stderr[-2000:]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *cmd], capture_output=True, text=True, env=env, check=True
    )
    info = json.loads(done.stdout)
    if info["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{info['err']}")
    return info["s"], info["rss"], info["out"]


def build_database(path: Path, n_responses: int, seed: int = 1) -> dict[str, str]:
    """A service database with ``n_responses`` responses of simulated CAT sessions."""
    url = f"sqlite:///{path}"
    if path.exists():  # built by an earlier run with --work
        return {"url": url}
    db = Database(Settings(url))
    db.migrate()
    published, truth = make_banks(400, 40, seed)
    publish_bank(db, tenant="bench", document=json.loads(bank_to_json(published)))
    config = {"max_items": 17, "stop_se": None, "pretest_count": 3, "pretest_first": 2}
    assessment = create_assessment(db, tenant="bench", bank="live", bank_version=1, config=config)[
        "assessment_id"
    ]
    per_test = 20
    n_sessions = n_responses // per_test
    rng = np.random.default_rng(seed)
    chunk = 20_000
    ids = np.array(truth.item_ids)
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for start in range(0, n_sessions, chunk):
            n = min(chunk, n_sessions - start)
            sim = simulate(
                truth,
                CATConfig.from_dict(config),
                n=n,
                true_theta=rng.normal(0.3, 0.9, n),
                seed=seed + start,
            )
            sessions = [
                {
                    "id": str(uuid.UUID(int=start + i + 1)),
                    "tenant": "bench",
                    "assessment_id": assessment,
                    "examinee_ref": f"student-{start + i}",
                    "practice": False,
                    "seed": int(sim.seeds[i]),
                    "seq": per_test,
                    "status": "finished",
                    "state": {},
                }
                for i in range(n)
            ]
            conn.execute(insert(TestSession.__table__), sessions)
            rows = [
                {
                    "session_id": sessions[i]["id"],
                    "seq": s + 1,
                    "item_id": ids[sim.items[i, s]],
                    "response": int(sim.responses[i, s]),
                    "reply": {},
                }
                for i in range(n)
                for s in range(per_test)
            ]
            conn.execute(insert(Response.__table__), rows)
    db.dispose()
    print(f"built {n_sessions * per_test} responses in {time.perf_counter() - started:.0f} s")
    return {"url": url, "assessment": assessment}


def bench_export(args: argparse.Namespace) -> None:
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="zapcat-export-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ZAPCAT_EXPORT_SECRET": "bench"}
    lines = []
    for n in (args.responses // 5, args.responses):
        info = build_database(work / f"db{n}.sqlite", n)
        for fmt in ("csv", "parquet"):
            out = work / f"export{n}.{fmt}"
            seconds, rss, _ = child(
                [
                    ZAPCAT,
                    "responses",
                    "export",
                    "--bank",
                    "live",
                    "--version",
                    "1",
                    "--tenant",
                    "bench",
                    "--out",
                    str(out),
                    "--database-url",
                    info["url"],
                ],
                env,
            )
            size = out.stat().st_size / 1e6
            lines.append(
                f"| {n:,} | {fmt} | {seconds:.1f} | {n / seconds / 1e3:.0f} | {rss:.0f} | "
                f"{size:.0f} |"
            )
            print(lines[-1], flush=True)
            out.unlink()
    print("\n| responses | format | seconds | thousand rows/s | peak RSS MB | file MB |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))


def cat_export(truth: ItemBank, n: int, seed: int, config: dict) -> pd.DataFrame:
    theta = np.random.default_rng(seed).normal(0.4, 0.9, n)
    sim = simulate(truth, CATConfig.from_dict(config), n=n, true_theta=theta, seed=seed)
    person, col = np.nonzero(sim.items >= 0)
    return pd.DataFrame(
        {
            "session_id": [f"s{p}" for p in person],
            "item": np.array(truth.item_ids)[sim.items[person, col]],
            "response": sim.responses[person, col],
        }
    )


def accuracy(doc: dict, truth: ItemBank) -> tuple[float, float]:
    est, se, true = [], [], []
    for row in doc["items"]:
        for name in ("a", "b"):
            est.append(row["params"][name])
            se.append(row["se"].get(name, np.nan))
            true.append(truth[row["item_id"]].params[name])
    est, se, true = map(np.asarray, (est, se, true))
    return float(np.mean(np.abs(est - true) <= 1.96 * se)), float(
        np.sqrt(np.mean((est - true) ** 2))
    )


def bench_calibrate(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="zapcat-online-"))
    published, truth = make_banks(300, args.pretest, 3)
    config = {"max_items": 15, "stop_se": None, "pretest_count": 3, "pretest_first": 2}
    frame = cat_export(truth, args.examinees, 4, config)
    export = work / "export.parquet"
    frame.to_parquet(export)
    bank_path = work / "bank.json"
    bank_path.write_text(bank_to_json(published))
    print(
        "| method | examinees | responses | pretest items | seconds | peak RSS MB | "
        "coverage 95% | RMSE (a, b) |\n|---|---|---|---|---|---|---|---|"
    )
    for method in ("mem", "oem"):
        out = work / f"{method}.json"
        seconds, rss, _ = child(
            [
                ZAPCAT,
                "calibrate",
                str(export),
                "--anchors",
                str(bank_path),
                "--pretest-only",
                "--online-method",
                method,
                "--out",
                str(out),
            ],
            dict(os.environ),
        )
        coverage, rmse = accuracy(json.loads(out.read_text()), truth)
        print(
            f"| {method.upper()} | {args.examinees:,} | {len(frame):,} | {args.pretest} | "
            f"{seconds:.1f} | {rss:.0f} | {coverage:.3f} | {rmse:.3f} |",
            flush=True,
        )


async def examinees(app, headers, assessment, truth, thetas, concurrent: int = 8) -> int:
    """Examinees over the app's HTTP interface (httpx on ASGI), ``concurrent`` at a time."""
    import httpx

    n_requests = 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://zapcat") as client:

        async def one(person: int) -> None:
            nonlocal n_requests
            rng = np.random.default_rng(person)
            body = (
                await client.post(
                    "/v1/sessions",
                    headers=headers,
                    json={"assessment_id": assessment, "examinee_ref": f"ex-{person}"},
                )
            ).json()
            n_requests += 1
            while body["status"] == "in_progress":
                item = body["item"]["item_id"]
                p = truth.prob([thetas[person]], [truth.index_of(item)])[0, 0, 1]
                body = (
                    await client.post(
                        f"/v1/sessions/{body['session_id']}/responses",
                        headers=headers,
                        json={
                            "item_id": item,
                            "seq": body["seq"],
                            "response": int(rng.random() < p),
                        },
                    )
                ).json()
                n_requests += 1

        for start in range(0, len(thetas), concurrent):
            stop = min(start + concurrent, len(thetas))
            await asyncio.gather(*(one(person) for person in range(start, stop)))
    return n_requests


def bench_loop(args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.services.keys import create_key
    from calibration.online import OnlineCalibrator, read_export

    work = Path(tempfile.mkdtemp(prefix="zapcat-loop-"))
    app = create_app(Settings(f"sqlite:///{work / 'zapcat.db'}", export_secret="bench"))
    key, _ = create_key(app.state.context.db, tenant="bench", scope="admin")
    headers = {"Authorization": f"Bearer {key}"}
    published, truth = make_banks(200, args.pretest, 5)
    config = {"max_items": 10, "stop_se": None, "pretest_count": 3, "pretest_first": 2}
    times = {}
    with TestClient(app) as client:
        client.post("/v1/banks", json=json.loads(bank_to_json(published)), headers=headers)
        assessment = client.post(
            "/v1/assessments",
            headers=headers,
            json={"bank": "live", "bank_version": 1, "config": config},
        ).json()["assessment_id"]
        started = time.perf_counter()
        thetas = np.random.default_rng(9).normal(0.4, 0.9, args.examinees)
        n_requests = asyncio.run(examinees(app, headers, assessment, truth, thetas))
        times["examinees over HTTP"] = time.perf_counter() - started
        started = time.perf_counter()
        content = client.get(
            "/v1/banks/live/versions/1/responses?format=parquet", headers=headers
        ).content
        times["export"] = time.perf_counter() - started
    data = read_export(pd.read_parquet(io.BytesIO(content)), published)
    print(f"{args.examinees} examinees, {n_requests} requests, {data.n_observed} responses")
    print("| method | seconds | coverage 95% | RMSE (a, b) | latent mean, SD (true 0.4, 0.9) |")
    print("|---|---|---|---|---|")
    for method in ("mem", "oem"):
        started = time.perf_counter()
        result = OnlineCalibrator(published, method=method).fit(data).result_
        seconds = time.perf_counter() - started
        coverage, rmse = accuracy(result.to_dict(), truth)
        print(
            f"| {method.upper()} | {seconds:.1f} | {coverage:.3f} | {rmse:.3f} | "
            f"{result.latent_mean:.3f}, {result.latent_sd:.3f} |"
        )
    for stage, seconds in times.items():
        print(f"{stage}: {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export")
    p.add_argument("--responses", type=int, default=5_000_000)
    p.add_argument("--work", help="folder of the databases (kept and reused)")
    p = sub.add_parser("calibrate")
    p.add_argument("--examinees", type=int, default=50_000)
    p.add_argument("--pretest", type=int, default=60)
    p = sub.add_parser("loop")
    p.add_argument("--examinees", type=int, default=5000)
    p.add_argument("--pretest", type=int, default=20)
    args = parser.parse_args()
    {"export": bench_export, "calibrate": bench_calibrate, "loop": bench_loop}[args.command](args)


if __name__ == "__main__":
    main()
