"""Latency of the 1EdTech CAT API next to ``/v1``: real HTTP against uvicorn on 127.0.0.1.

    .venv/bin/python bench/ims_cat.py                  # SQLite (1 worker), PostgreSQL (2)
    .venv/bin/python bench/ims_cat.py --backends sqlite --tests 20

For each database: a fresh database, the demo bank and an assessment (``stop_se 0.3,
max_items 30``), ``uvicorn`` started as ``zapcat serve`` runs it, then whole tests one
after another by one client, alternating a ``/v1`` test and a 1EdTech CAT test of the same
seed and answers (a TAO-like client: cumulative ``itemResult``, echoed ``sessionState``).
Reports the latency of the answer call of each API (``POST /v1/sessions/{id}/responses``
and ``POST .../results``) and checks that both APIs gave the same items.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.db import Database
from api.server import start_server
from api.services.demo import setup_demo
from api.settings import Settings
from item_banks.examples import DEMO_BANK_PATH
from item_banks.io import read_bank

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BANK = read_bank(DEMO_BANK_PATH)


def _answer(item_id: str, theta: float, rng: np.random.Generator) -> int:
    k = BANK[item_id].n_categories
    p = BANK.prob([theta], [BANK.index_of(item_id)])[0, 0, :k]
    return int(rng.choice(k, p=p / p.sum()))


def _v1_test(http, assessment, seed, theta) -> tuple[list[str], list[float]]:
    rng = np.random.default_rng(seed)
    body = http.post(
        "/v1/sessions", json={"assessment_id": assessment, "examinee_ref": "b", "seed": seed}
    ).json()
    items, times = [], []
    while body["status"] == "in_progress":
        item = body["item"]["item_id"]
        items.append(item)
        t0 = time.perf_counter()
        reply = http.post(
            f"/v1/sessions/{body['session_id']}/responses",
            json={"item_id": item, "seq": body["seq"], "response": _answer(item, theta, rng)},
        )
        times.append(time.perf_counter() - t0)
        body = reply.json()
    return items, times


def _ims_test(http, section, seed, theta) -> tuple[list[str], list[float]]:
    rng = np.random.default_rng(seed)
    prior = [{"key": "initialEstimatedAbility", "value": "0.0"}, {"key": "seed", "value": seed}]
    body = http.post(f"/ims/cat/v1p0/sections/{section}/sessions", json={"priorData": prior})
    body = body.json()
    session, state, nxt = body["sessionIdentifier"], body["sessionState"], body["nextItems"]
    results, items, times = [], [], []
    while nxt["itemIdentifiers"]:
        item = nxt["itemIdentifiers"][0]
        items.append(item)
        score = _answer(item, theta, rng)
        results.append({"identifier": item, "datestamp": "2026-12-01T10:00:00+0000",
                        "sessionStatus": "FINAL", "outcomeVariables": [
                            {"identifier": "SCORE", "cardinality": 0,
                             "value": [{"baseType": "FLOAT", "value": score}]}]})  # fmt: skip
        t0 = time.perf_counter()
        reply = http.post(
            f"/ims/cat/v1p0/sections/{section}/sessions/{session}/results",
            json={"assessmentResult": {"itemResult": results}, "sessionState": state},
        )
        times.append(time.perf_counter() - t0)
        body = reply.json()
        state, nxt = body["sessionState"], body["nextItems"]
    return items, times


def _fresh_postgres(server: str) -> str:
    admin = create_engine(Settings(server).url, isolation_level="AUTOCOMMIT")
    name = f"zapcat_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(Settings(server).url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(server: str, name: str) -> None:
    admin = create_engine(Settings(server).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(backend: str, url: str, n_tests: int, workers: int) -> dict:
    db = Database(Settings(url))
    db.migrate()
    demo = setup_demo(db)
    db.dispose()
    conf = base64.b64encode(json.dumps({"assessment_id": demo["assessment_id"]}).encode())
    log = Path(tempfile.mkdtemp()) / "uvicorn.log"
    server = start_server(url, log_path=log, workers=workers, access_log=False)
    headers = {"Authorization": f"Bearer {demo['deliver_key']}"}
    v1, ims, same = [], [], 0
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            section = http.post(
                "/ims/cat/v1p0/sections",
                json={"qtiMetadata": "", "qtiUsagedata": "", "sectionConfiguration": conf.decode()},
            ).json()["sectionIdentifier"]
            rng = np.random.default_rng(1)
            for k in range(n_tests):
                seed, theta = 1000 + k, float(rng.normal())
                items_v1, t_v1 = _v1_test(http, demo["assessment_id"], seed, theta)
                items_ims, t_ims = _ims_test(http, section, seed, theta)
                v1 += t_v1
                ims += t_ims
                same += items_v1 == items_ims
    finally:
        server.stop()

    def pct(values: list[float]) -> dict:
        ms = np.asarray(values) * 1000
        return {f"p{q}": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}

    return {
        "backend": backend, "workers": workers, "tests": n_tests, "same_items": same,
        "calls_v1": len(v1), "calls_ims": len(ims), "v1_ms": pct(v1), "ims_ms": pct(ims),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--tests", type=int, default=40)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            url, workers = f"sqlite:///{tempfile.mkdtemp()}/bench.db", 1
        else:
            url, workers = _fresh_postgres(args.postgres), 2
        try:
            print(json.dumps(run(backend, url, args.tests, workers)), flush=True)
        finally:
            if backend != "sqlite":
                _drop_postgres(args.postgres, make_url(url).database)


if __name__ == "__main__":
    main()
