"""Load benchmark of the delivery service: real HTTP against uvicorn on 127.0.0.1.

One command runs both databases:

    .venv/bin/python bench/api_load.py                       # SQLite (1 worker) and
                                                             # PostgreSQL (2 workers)
    .venv/bin/python bench/api_load.py --backends sqlite --examinees 8 --tests 50

For each database it creates a fresh database, publishes a seeded 500-item bank (2PL,
3PL and 4-category GRM), creates an assessment, starts ``uvicorn`` as a subprocess on a
free loopback port and runs N concurrent simulated examinees (asyncio + httpx), each
completing whole tests one after another until the number of tests or the time budget is
reached. Examinees answer by drawing from the bank's own category probabilities at their
true theta (N(0, 1)), after an optional think time. It reports tests/second, latency
percentiles of the response call, errors, and checks that nothing was lost: every
accepted response is a row in the database and every completed test a finished session.

Results are printed as JSON and as a markdown table (``--results`` appends that table
to bench/RESULTS.md under the Service section).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from api.db import Database
from api.models import Response, TestSession
from api.server import start_server
from api.services.assessments import create_assessment
from api.services.banks import publish_bank
from api.services.keys import create_key
from api.settings import Settings
from item_banks.bank import Item, ItemBank
from item_banks.io import bank_to_json

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
CONFIG = {"stop_se": 0.3, "max_items": 30}


def make_bank(n_items: int, seed: int) -> ItemBank:
    """A seeded bank: 60% 2PL, 25% 3PL, 15% GRM with 4 categories."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_items):
        a = float(rng.lognormal(0.1, 0.3))
        b = float(rng.normal(0.0, 1.0))
        kind = rng.random()
        if kind < 0.6:
            items.append(Item(f"i{i:04d}", "2pl", {"a": a, "b": b}))
        elif kind < 0.85:
            items.append(
                Item(f"i{i:04d}", "3pl", {"a": a, "b": b, "c": float(rng.uniform(0.1, 0.25))})
            )
        else:
            steps = np.sort(rng.normal(b, 0.8, 3))
            steps = steps + np.arange(3) * 0.05  # strictly increasing
            params = {"a": a, **{f"b{k + 1}": float(v) for k, v in enumerate(steps)}}
            items.append(Item(f"i{i:04d}", "grm", params, n_categories=4))
    return ItemBank(items, name="load-bench", description="seeded benchmark bank")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += [child for child, ppid in parent.items() if ppid == pid]
    return total


def fresh_postgres(server: str) -> tuple[str, str]:
    """Create a fresh database on the server; return its URL and name."""
    admin = create_engine(Settings(server).url, isolation_level="AUTOCOMMIT")
    name = f"zapcat_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(Settings(server).url).set(database=name).render_as_string(False), name


def drop_postgres(server: str, name: str) -> None:
    admin = create_engine(Settings(server).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def prepare(url: str, bank: ItemBank, config: dict) -> tuple[str, str]:
    """Migrate, create a delivery key, publish the bank, create the assessment."""
    db = Database(Settings(url))
    db.migrate()
    deliver, _ = create_key(db, tenant="bench", scope="deliver")
    version = publish_bank(db, tenant="bench", document=json.loads(bank_to_json(bank)))
    assessment = create_assessment(
        db, tenant="bench", bank=bank.name, bank_version=version["version"], config=config
    )
    db.dispose()
    return deliver, assessment["assessment_id"]


async def examinee(
    client: httpx.AsyncClient,
    k: int,
    bank: ItemBank,
    assessment_id: str,
    stats: dict,
    stop_at: float,
    rng: np.random.Generator,
    think: float,
) -> None:
    while stats["started"] < stats["target"] and time.monotonic() < stop_at:
        stats["started"] += 1
        theta = float(rng.normal())
        reply = await client.post(
            "/v1/sessions", json={"assessment_id": assessment_id, "examinee_ref": f"sim-{k}"}
        )
        if reply.status_code != 201:
            stats["errors"].append(reply.text[:300])
            continue
        body = reply.json()
        session_id = body["session_id"]
        while body["status"] == "in_progress":
            item = body["item"]
            probs = bank.prob([theta], [bank.index_of(item["item_id"])])[
                0, 0, : item["n_categories"]
            ]
            response = int(rng.choice(item["n_categories"], p=probs / probs.sum()))
            if think:
                await asyncio.sleep(rng.exponential(think))
            t0 = time.perf_counter()
            reply = await client.post(
                f"/v1/sessions/{session_id}/responses",
                json={"item_id": item["item_id"], "seq": body["seq"], "response": response},
            )
            stats["latencies"].append(time.perf_counter() - t0)
            if reply.status_code != 200:
                stats["errors"].append(reply.text[:300])
                break
            stats["responses"] += 1
            body = reply.json()
        else:
            stats["completed"] += 1


async def drive(
    port: int,
    key: str,
    assessment_id: str,
    bank: ItemBank,
    n: int,
    tests: int,
    seconds: float,
    seed: int,
    think: float,
) -> dict:
    stats = {
        "started": 0,
        "target": tests,
        "completed": 0,
        "responses": 0,
        "errors": [],
        "latencies": [],
    }
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        limits=limits,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as client:
        t0 = time.perf_counter()
        stop_at = time.monotonic() + seconds
        rngs = np.random.default_rng(seed).spawn(n)
        await asyncio.gather(
            *(
                examinee(client, k, bank, assessment_id, stats, stop_at, rngs[k], think)
                for k in range(n)
            )
        )
        stats["elapsed"] = time.perf_counter() - t0
    return stats


_FORKED: dict = {}


def _client_process(part: int) -> dict:
    """One load-generator process: its share of the examinees (forked; reads _FORKED)."""
    job = _FORKED
    n = job["examinees"] // job["processes"] + (part < job["examinees"] % job["processes"])
    tests = job["tests"] // job["processes"] + (part < job["tests"] % job["processes"])
    cpu0 = time.process_time()
    stats = asyncio.run(
        drive(
            job["port"],
            job["key"],
            job["assessment_id"],
            job["bank"],
            n,
            tests,
            job["seconds"],
            job["seed"] + 1000 * part,
            job["think"],
        )
    )
    stats["client_cpu"] = time.process_time() - cpu0
    return stats


def drive_processes(port, key, assessment_id, bank, args, think) -> dict:
    """Run the examinees in ``args.client_processes`` forked processes; merge their stats."""
    import multiprocessing

    processes = max(1, min(args.client_processes, args.examinees))
    _FORKED.update(
        port=port,
        key=key,
        assessment_id=assessment_id,
        bank=bank,
        examinees=args.examinees,
        tests=args.tests,
        seconds=args.max_seconds,
        seed=args.seed,
        think=think,
        processes=processes,
    )
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_client_process, range(processes))
    merged = {"completed": 0, "responses": 0, "client_cpu": 0.0, "errors": [], "latencies": []}
    for part in parts:
        for key_ in ("completed", "responses", "client_cpu"):
            merged[key_] += part[key_]
        merged["errors"] += part["errors"]
        merged["latencies"] += part["latencies"]
    merged["elapsed"] = time.perf_counter() - t0
    return merged


def count_rows(url: str) -> tuple[int, int]:
    db = Database(Settings(url))
    with db.read() as session:
        responses = session.scalar(select(func.count()).select_from(Response))
        finished = session.scalar(
            select(func.count()).select_from(TestSession).where(TestSession.status == "finished")
        )
    db.dispose()
    return responses, finished


def run_one(
    backend: str, workers: int, think_ms: float, args: argparse.Namespace, bank: ItemBank
) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="zapcat-bench-"))
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        url, pg_name = fresh_postgres(args.postgres_url)
    try:
        key, assessment_id = prepare(url, bank, json.loads(args.config))
        server = start_server(url, log_path=tmp / "uvicorn.log", workers=workers, access_log=False)
        port = int(server.url.rsplit(":", 1)[1])
        load_before = os.getloadavg()[0]
        server_cpu0 = tree_cpu_seconds(server.process.pid)
        try:
            stats = drive_processes(port, key, assessment_id, bank, args, think_ms / 1000)
            client_cpu = stats["client_cpu"]
            server_cpu = tree_cpu_seconds(server.process.pid) - server_cpu0
        finally:
            server.stop(timeout=30)
        rows, finished = count_rows(url)
    finally:
        if pg_name:
            drop_postgres(args.postgres_url, pg_name)
    lat = np.array(stats["latencies"]) * 1000
    return {
        "backend": backend,
        "workers": workers,
        "examinees": args.examinees,
        "think_ms": think_ms,
        "client_processes": max(1, min(args.client_processes, args.examinees)),
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "tests_completed": stats["completed"],
        "responses": stats["responses"],
        "elapsed_s": round(stats["elapsed"], 2),
        "tests_per_s": round(stats["completed"] / stats["elapsed"], 2),
        "responses_per_s": round(stats["responses"] / stats["elapsed"], 1),
        "items_per_test": round(stats["responses"] / max(stats["completed"], 1), 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 2) if lat.size else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
        "server_cpu_ms_per_request": round(
            1000 * server_cpu / max(stats["responses"] + stats["completed"], 1), 2
        ),
        "client_cpu_ms_per_request": round(
            1000 * client_cpu / max(stats["responses"] + stats["completed"], 1), 2
        ),
        "errors": len(stats["errors"]),
        "first_errors": stats["errors"][:3],
        "rows_in_db": rows,
        "finished_in_db": finished,
        "lost_responses": stats["responses"] - rows,
    }


def markdown(results: list[dict]) -> str:
    head = (
        "| database | workers | examinees | think (ms) | tests | tests/s | responses/s "
        "| items/test | p50 ms | p95 ms | p99 ms | errors | lost | server CPU ms/req "
        "| load avg |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = "".join(
        f"| {r['backend']} | {r['workers']} | {r['examinees']} | {r['think_ms']} "
        f"| {r['tests_completed']} | {r['tests_per_s']} | {r['responses_per_s']} "
        f"| {r['items_per_test']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
        f"| {r['errors']} | {r['lost_responses']} | {r['server_cpu_ms_per_request']} "
        f"| {r['load_avg_1min_before']} |\n"
        for r in results
    )
    return head + rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument("--examinees", type=int, default=32, help="concurrent examinees")
    parser.add_argument(
        "--tests", type=int, default=160, help="tests to complete per run (at most)"
    )
    parser.add_argument("--max-seconds", type=float, default=90.0, help="time budget per backend")
    parser.add_argument(
        "--think-ms",
        default="0,1000",
        help="comma-separated mean (exponential) think times before each answer, one run "
        "each; 0 = closed loop (saturation)",
    )
    parser.add_argument("--pg-workers", type=int, default=2, help="uvicorn workers on PostgreSQL")
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="load-generator processes sharing the examinees (httpx costs ~2-4 ms CPU per "
        "request: one process alone would queue the examinees' requests client-side)",
    )
    parser.add_argument("--sqlite-workers", type=int, default=1, help="uvicorn workers on SQLite")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("ZAPCAT_TEST_POSTGRES_URL") or DEFAULT_PG
    )
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--config", default=json.dumps(CONFIG), help="engine configuration JSON")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    bank = make_bank(args.items, args.seed)
    results = []
    for think_ms in (float(v) for v in args.think_ms.split(",")):
        for backend in args.backends.split(","):
            workers = args.sqlite_workers if backend == "sqlite" else args.pg_workers
            result = run_one(backend, workers, think_ms, args, bank)
            print(json.dumps(result), flush=True)
            results.append(result)
    print(
        f"\n{platform.node()} ({os.cpu_count()} cores), bank {args.items} items, "
        f"config {args.config}\n"
    )
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
