"""Answer latency while a 100,000-item bank is published (issue 11, defect 7).

    .venv/bin/python bench/large_bank.py                     # SQLite and PostgreSQL
    .venv/bin/python bench/large_bank.py --backends sqlite --items 20000

For each database: a fresh database with a 500-item assessment, ``uvicorn`` started as a
subprocess on loopback (as ``zapcat serve``: 1 worker on SQLite, 2 on PostgreSQL), and
paced simulated examinees (a forked load-generator process; exponential think time)
answering whole tests on it. After a quiet baseline, an admin client, over HTTP,
publishes a bank of ``--items`` items (``POST /v1/banks``), creates an assessment on it
(``POST /v1/assessments``) and starts its first session (``POST /v1/sessions``); the
examinees go on answering meanwhile. Reported: how long each of the three admin calls
took, and the answer latency (``POST /v1/sessions/{id}/responses``) p50 / p99 / max in the
baseline and while the admin calls ran, plus errors, and the CPU seconds the server's
serving processes and its bank child process used while they ran. Not a timed test: run by hand,
results in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from api.db import Database
from api.server import start_server
from api.services.keys import create_key
from api.settings import Settings
from item_banks.bank import ItemBank
from item_banks.io import bank_to_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import DEFAULT_PG, drop_postgres, fresh_postgres, make_bank

CONFIG = {"stop_se": 0.3, "max_items": 30}


def server_cpu(root: int, workers: int = 1) -> dict[str, float]:
    """CPU seconds so far of the server's processes: ``serving`` (uvicorn and its workers)
    and ``child`` (the processes they spawned for bank work), Linux ``/proc``.

    With several workers, uvicorn spawns them itself: the root's spawned children serve.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    parent, cpu, spawned = {}, {}, set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
        if b"spawn_main" in command or b"resource_tracker" in command:
            spawned.add(int(entry))
    out, todo = {"serving": 0.0, "child": 0.0}, [root]
    while todo:
        pid = todo.pop()
        worker = workers > 1 and parent.get(pid) == root
        out["child" if pid in spawned and not worker else "serving"] += cpu.get(pid, 0.0)
        todo += [child for child, ppid in parent.items() if ppid == pid]
    return out
big_name = "large-bank"


async def _examinee(client, bank, assessment_id, stop, rng, think, out) -> None:
    while time.time() < stop.value:
        reply = await client.post(
            "/v1/sessions", json={"assessment_id": assessment_id, "examinee_ref": "sim"}
        )
        if reply.status_code != 201:
            out["errors"].append(reply.text[:200])
            await asyncio.sleep(0.5)
            continue
        body, theta = reply.json(), float(rng.normal())
        while body["status"] == "in_progress" and time.time() < stop.value:
            item = body["item"]
            probs = bank.prob([theta], [bank.index_of(item["item_id"])])[0, 0]
            probs = probs[: item["n_categories"]]
            await asyncio.sleep(rng.exponential(think))
            sent = time.time()
            reply = await client.post(
                f"/v1/sessions/{body['session_id']}/responses",
                json={
                    "item_id": item["item_id"],
                    "seq": body["seq"],
                    "response": int(rng.choice(item["n_categories"], p=probs / probs.sum())),
                },
            )
            out["answers"].append((sent, time.time() - sent))
            if reply.status_code != 200:
                out["errors"].append(reply.text[:200])
                break
            body = reply.json()


async def _load(url, key, bank, assessment_id, n, stop, think, seed) -> dict:
    out: dict = {"answers": [], "errors": []}
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers, timeout=60) as c:
        rngs = np.random.default_rng(seed).spawn(n)
        await asyncio.gather(
            *(_examinee(c, bank, assessment_id, stop, rngs[k], think, out) for k in range(n))
        )
    return out


def _load_process(args: tuple, queue) -> None:
    queue.put(asyncio.run(_load(*args)))


def _window(answers: list, start: float, end: float) -> dict:
    lat = np.array([ms for sent, ms in answers if start <= sent < end]) * 1000
    if not lat.size:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "n": int(lat.size),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(lat.max()), 1),
    }


def run_one(backend: str, args: argparse.Namespace, small: ItemBank, big_doc: bytes) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="zapcat-largebank-"))
    pg_name = None
    if backend == "sqlite":
        url, workers = f"sqlite:///{tmp / 'bench.db'}", args.sqlite_workers
    else:
        (url, pg_name), workers = fresh_postgres(args.postgres_url), args.pg_workers
    try:
        db = Database(Settings(url))
        db.migrate()
        admin, _ = create_key(db, tenant="bench", scope="admin")
        deliver, _ = create_key(db, tenant="bench", scope="deliver")
        db.dispose()
        server = start_server(url, log_path=tmp / "uvicorn.log", workers=workers, access_log=False)
        fork = multiprocessing.get_context("fork")
        try:
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=600
            ) as client:
                published = client.post(
                    "/v1/banks",
                    content=bank_to_json(small),
                    headers={"content-type": "application/json"},
                ).json()
                assessment_id = client.post(
                    "/v1/assessments",
                    json={
                        "bank": small.name,
                        "bank_version": published["version"],
                        "config": CONFIG,
                    },
                ).json()["assessment_id"]
                load_before = os.getloadavg()[0]
                stop, queue = fork.Value("d", float("inf")), fork.Queue()
                job = (server.url, deliver, small, assessment_id, args.examinees, stop,
                       args.think_ms / 1000, args.seed)  # fmt: skip
                proc = fork.Process(target=_load_process, args=(job, queue))
                t0 = time.time()
                proc.start()
                time.sleep(args.baseline)
                t1 = time.time()
                cpu1 = server_cpu(server.process.pid, workers)
                reply = client.post(
                    "/v1/banks", content=big_doc, headers={"content-type": "application/json"}
                )
                t2 = time.time()
                assert reply.status_code == 201, reply.text[:500]
                reply = client.post(
                    "/v1/assessments",
                    json={
                        "bank": big_name,
                        "bank_version": reply.json()["version"],
                        "config": CONFIG,
                    },
                )
                t3 = time.time()
                assert reply.status_code == 201, reply.text[:500]
                first = client.post(
                    "/v1/sessions",
                    json={"assessment_id": reply.json()["assessment_id"], "examinee_ref": "x"},
                )
                t4 = time.time()
                cpu4 = server_cpu(server.process.pid, workers)
                assert first.status_code == 201, first.text[:500]
                time.sleep(args.after)
                t5 = time.time()
                stop.value = 0.0
                out = queue.get(timeout=120)
                proc.join(timeout=30)
        finally:
            server.stop(timeout=30)
    finally:
        if pg_name:
            drop_postgres(args.postgres_url, pg_name)
    answers = out["answers"]
    return {
        "backend": backend,
        "workers": workers,
        "items": args.items,
        "examinees": args.examinees,
        "think_ms": args.think_ms,
        "load_avg_1min_before": round(load_before, 2),
        "publish_s": round(t2 - t1, 2),
        "create_assessment_s": round(t3 - t2, 2),
        "first_session_start_s": round(t4 - t3, 2),
        "server_cpu_s": round(cpu4["serving"] - cpu1["serving"], 1),
        "child_cpu_s": round(cpu4["child"] - cpu1["child"], 1),
        "baseline": _window(answers, t0 + 2, t1),
        "during": _window(answers, t1, t4),
        "after": _window(answers, t4, t5),
        "errors": len(out["errors"]),
        "first_errors": out["errors"][:3],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--items", type=int, default=100_000, help="items of the large bank")
    parser.add_argument("--examinees", type=int, default=16)
    parser.add_argument("--think-ms", type=float, default=500.0, help="mean think time")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds before publishing")
    parser.add_argument("--after", type=float, default=3.0, help="seconds after the last call")
    parser.add_argument("--sqlite-workers", type=int, default=1)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("ZAPCAT_TEST_POSTGRES_URL") or DEFAULT_PG
    )
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--label", default="", help="a name for this code (before/after)")
    args = parser.parse_args(argv)
    small = make_bank(500, args.seed)
    large = make_bank(args.items, args.seed + 1)
    big_doc = bank_to_json(
        ItemBank(large.items, name=big_name, description="the large bank")
    ).encode()
    results = []
    for backend in args.backends.split(","):
        result = {"label": args.label, **run_one(backend, args, small, big_doc)}
        print(json.dumps(result), flush=True)
        results.append(result)
    print(f"\n{platform.node()} ({os.cpu_count()} cores), {len(big_doc) / 1e6:.1f} MB bank")
    print(markdown(results))


def markdown(results: list[dict]) -> str:
    head = (
        "| code | database | workers | publish s | create s | first start s "
        "| server / child CPU s | baseline p50 / p99 / max ms | during p50 / p99 / max ms (n) "
        "| errors | load avg |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = ""
    for r in results:
        b, d = r["baseline"], r["during"]
        rows += (
            f"| {r['label']} | {r['backend']} | {r['workers']} | {r['publish_s']} "
            f"| {r['create_assessment_s']} | {r['first_session_start_s']} "
            f"| {r['server_cpu_s']} / {r['child_cpu_s']} "
            f"| {b['p50_ms']} / {b['p99_ms']} / {b['max_ms']} "
            f"| {d['p50_ms']} / {d['p99_ms']} / {d['max_ms']} ({d['n']}) "
            f"| {r['errors']} | {r['load_avg_1min_before']} |\n"
        )
    return head + rows


if __name__ == "__main__":
    main()
