"""The whole maintenance loop through the service: pretest seeding over HTTP, export,
online calibration, promotion; and the export endpoint's contract."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.services.keys import create_key
from api.settings import Settings
from calibration.online import OnlineCalibrator, read_export
from item_banks.bank import Item, ItemBank
from item_banks.io import bank_from_dict, bank_to_json

N_EXAMINEES = 2000
CONFIG = {"max_items": 4, "stop_se": None, "pretest_count": 1, "pretest_first": 2}
PRACTICE = {"mode": "practice", "max_items": 3, "stop_se": None}
"""A practice test on the same bank version: its practice items only, never exported."""


def banks(seed: int = 1) -> tuple[ItemBank, ItemBank]:
    """(bank as published with provisional pretest values, the true values)."""
    rng = np.random.default_rng(seed)
    op = [
        Item(
            f"op{j:03d}",
            "2pl",
            {"a": float(rng.uniform(0.8, 2.2)), "b": float(rng.normal())},
            content_areas=("core",),
        )
        for j in range(80)
    ]
    true = [
        Item(
            f"pt{j}",
            "2pl",
            {"a": float(rng.uniform(1.0, 2.0)), "b": float(rng.normal(0.3, 0.7))},
            status="pretest",
            content_areas=("new",),
        )
        for j in range(6)
    ]
    provisional = [
        Item(t.item_id, "2pl", {"a": 1.0, "b": 0.0}, status="pretest", content_areas=("new",))
        for t in true
    ]
    practice = [Item(f"pr{j}", "2pl", {"a": 1.0, "b": j - 2.0}, status="practice")
                for j in range(5)]  # fmt: skip
    return ItemBank(op + provisional + practice, name="live"), ItemBank(op + true, name="truth")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('loop') / 'zapcat.db'}"
    application = create_app(Settings(url, export_secret="s3cret"))
    db = application.state.context.db
    admin, _ = create_key(db, tenant="loop", scope="admin")
    deliver, _ = create_key(db, tenant="loop", scope="deliver")
    with TestClient(application) as client:
        yield (
            client,
            url,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {deliver}"},
        )
    db.dispose()


async def examinees(app, headers, assessment, truth, thetas, concurrent: int = 8) -> None:
    """Examinees answering from the true parameters, ``concurrent`` at a time, over the
    app's HTTP interface (httpx on the ASGI app: the TestClient's protocol without its
    thread hop per request)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://zapcat") as client:

        async def one(person: int) -> None:
            rng = np.random.default_rng(person)
            reply = await client.post(
                "/v1/sessions",
                headers=headers,
                json={"assessment_id": assessment, "examinee_ref": f"ex-{person}", "seed": person},
            )
            body = reply.json()
            while body["status"] == "in_progress":
                item_id = body["item"]["item_id"]
                p = truth.prob([thetas[person]], [truth.index_of(item_id)])[0, 0, 1]
                reply = await client.post(
                    f"/v1/sessions/{body['session_id']}/responses",
                    headers=headers,
                    json={
                        "item_id": item_id,
                        "seq": body["seq"],
                        "response": int(rng.random() < p),
                    },
                )
                assert reply.status_code == 200, reply.text
                body = reply.json()

        for start in range(0, len(thetas), concurrent):
            stop = min(start + concurrent, len(thetas))
            await asyncio.gather(*(one(person) for person in range(start, stop)))


@pytest.fixture(scope="module")
def live(service):
    """2,000 examinees over HTTP on a bank with 6 pretest items, one seeded per test."""
    client, _, admin, deliver = service
    published, truth = banks()
    reply = client.post("/v1/banks", json=json.loads(bank_to_json(published)), headers=admin)
    assert reply.status_code == 201, reply.text
    reply = client.post(
        "/v1/assessments", headers=admin, json={"bank": "live", "bank_version": 1, "config": CONFIG}
    )
    assert reply.status_code == 201, reply.text
    assessment = reply.json()["assessment_id"]
    thetas = np.random.default_rng(7).normal(0.4, 0.9, N_EXAMINEES)
    asyncio.run(examinees(client.app, deliver, assessment, truth, thetas))
    # a practice test on the same bank version: delivered as any other, never exported
    reply = client.post(
        "/v1/assessments", headers=admin,
        json={"bank": "live", "bank_version": 1, "config": PRACTICE},
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    body = client.post(
        "/v1/sessions",
        headers=deliver,
        json={"assessment_id": reply.json()["assessment_id"], "examinee_ref": "practice-1"},
    ).json()
    while body["status"] == "in_progress":
        body = client.post(
            f"/v1/sessions/{body['session_id']}/responses",
            headers=deliver,
            json={"item_id": body["item"]["item_id"], "seq": body["seq"], "response": 1},
        ).json()
    return published, truth, assessment


@pytest.mark.slow
def test_whole_loop_export_calibrate_promote(service, live, tmp_path):
    client, url, admin, _ = service
    published, truth, _ = live
    reply = client.get("/v1/banks/live/versions/1/responses", headers=admin)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(reply.text), dtype={"person": str, "session_id": str})
    assert list(frame.columns) == [
        "person",
        "session_id",
        "item",
        "response",
        "seq",
        "time",
        "scored",
        "finished",
    ]
    assert len(frame) == N_EXAMINEES * (CONFIG["max_items"] + CONFIG["pretest_count"])
    assert frame["session_id"].nunique() == N_EXAMINEES
    assert frame["person"].nunique() == N_EXAMINEES
    assert not frame["person"].str.startswith("ex-").any()  # pseudonymised
    assert (frame["scored"] == ~frame["item"].str.startswith("pt")).all()
    n_per_test = CONFIG["max_items"] + CONFIG["pretest_count"]
    steps = frame.groupby("session_id")["seq"].apply(list)
    assert all(s == list(range(1, n_per_test + 1)) for s in steps)
    parquet = client.get("/v1/banks/live/versions/1/responses?format=parquet", headers=admin)
    same = pd.read_parquet(io.BytesIO(parquet.content))
    for column in ("person", "item", "response", "scored"):
        assert same[column].tolist() == frame[column].tolist()

    # the command line writes the same export (same secret: same pseudonyms)
    out = tmp_path / "export.parquet"
    run = CliRunner().invoke(
        cli,
        [
            "responses",
            "export",
            "--bank",
            "live",
            "--version",
            "1",
            "--tenant",
            "loop",
            "--out",
            str(out),
            "--database-url",
            url,
        ],
        env={"ZAPCAT_EXPORT_SECRET": "s3cret"},
    )
    assert run.exit_code == 0, run.output
    assert pd.read_parquet(out)["person"].tolist() == frame["person"].tolist()

    # online calibration: MEM covers the truth with its SEs and beats OEM
    data = read_export(out, published)
    fits = {m: OnlineCalibrator(published, method=m).fit(data).result_ for m in ("mem", "oem")}
    rmse = {}
    for method, result in fits.items():
        items = result.items
        est = np.r_[items["a"], items["b"]]
        true = np.r_[
            [truth[i].params["a"] for i in items.index], [truth[i].params["b"] for i in items.index]
        ]
        rmse[method] = float(np.sqrt(np.mean((est - true) ** 2)))
        if method == "mem":
            se = np.r_[items["a_se"], items["b_se"]]
            coverage = np.mean(np.abs(est - true) <= 1.96 * se)
            assert coverage >= 0.75, coverage  # 12 estimates; the 0.90-0.99 check is in
            # tests/calibration/test_online.py over 240 estimates
            assert result.latent_mean == pytest.approx(0.4, abs=0.1)
    assert rmse["mem"] < rmse["oem"], rmse

    # candidates from the command line, promoted through the API
    cand = tmp_path / "candidates.json"
    bank_file = tmp_path / "live.json"
    bank_file.write_text(bank_to_json(published))
    run = CliRunner().invoke(
        cli,
        ["calibrate", str(out), "--anchors", str(bank_file), "--pretest-only", "--out", str(cand)],
        env={"COLUMNS": "200"},
    )
    assert run.exit_code == 0, run.output
    doc = json.loads(cand.read_text())
    assert len(doc["items"]) == 6 and doc["method"] == "mem"
    reply = client.post(
        "/v1/banks/live/versions/1/promotions",
        headers=admin,
        json={"candidates": doc, "accept": ["pt0", "pt1"], "retire": ["op000"]},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["version"] == 2
    new = client.get("/v1/banks/live/versions/2", headers=admin).json()["document"]
    bank2 = bank_from_dict(new)
    assert bank2["pt0"].status == "operational" and bank2["pt2"].status == "pretest"
    assert bank2["op000"].status == "retired"
    row = next(r for r in doc["items"] if r["item_id"] == "pt0")
    assert bank2["pt0"].params == pytest.approx(row["params"])
    assert bank2["pt0"].se == pytest.approx(row["se"])
    assert bank2["pt0"].content_areas == ("new",)
    prov = bank2.provenance
    assert prov["promoted_from"] == {"name": "live", "version": "1"}
    assert prov["candidates"]["data"]["sha256"] == doc["data"]["sha256"]
    assert set(prov["changed_items"]) == {"pt0", "pt1", "op000"}


def test_export_errors_are_structured(service, live):
    client, _, admin, deliver = service
    reply = client.get("/v1/banks/live/versions/9/responses", headers=admin)
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found"
    reply = client.get("/v1/banks/live/versions/1/responses", headers=deliver)
    assert reply.status_code == 403
    reply = client.get("/v1/banks/live/versions/1/responses?format=xlsx", headers=admin)
    assert reply.status_code == 422
    reply = client.get("/v1/banks/live/versions/1/responses?assessment_id=nope", headers=admin)
    assert reply.status_code == 404
    _, _, assessment = live
    reply = client.get(
        f"/v1/banks/live/versions/1/responses?assessment_id={assessment}&examinee_refs=true",
        headers=admin,
    )
    frame = pd.read_csv(io.StringIO(reply.text))
    assert frame["person"].str.startswith("ex-").all()
    reply = client.post(
        "/v1/banks/live/versions/1/promotions", headers=admin, json={"accept": ["nope"]}
    )
    assert reply.status_code == 400 and "not candidates" in reply.json()["error"]["message"]


def test_practice_migration_keeps_existing_sessions(tmp_path):
    """Upgrading a database at revision 0001 with sessions and responses keeps them all."""
    from alembic import command

    from api.db import Database
    from api.migrations import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(Settings(url))
    with db._write_engine.begin() as conn:
        upgrade(conn, "0001")
    with db.engine.begin() as conn:
        for sql in (
            "insert into bank_versions (tenant, name, version, n_items, description, document, "
            "created_at) values ('t', 'b', 1, 1, '', '{}', '2026-01-01')",
            "insert into assessments (id, tenant, name, bank_version_id, config, n_sessions, "
            "created_at) values ('a', 't', '', 1, '{}', 0, '2026-01-01')",
            "insert into sessions (id, tenant, assessment_id, examinee_ref, seed, seq, status, "
            "state, created_at, updated_at) values ('s', 't', 'a', 'x', 1, 1, 'in_progress', "
            "'{}', '2026-01-01', '2026-01-01')",
            "insert into responses (session_id, seq, item_id, response, received_at, reply) "
            "values ('s', 1, 'i', 1, '2026-01-01', '{}')",
        ):
            conn.exec_driver_sql(sql)
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("select id, practice from sessions").all() == [("s", 0)]
        assert conn.exec_driver_sql("select count(*) from responses").scalar() == 1
    command.downgrade(alembic_config(Settings(url).url), "0001")
    with db.engine.connect() as conn:
        assert "practice" not in conn.exec_driver_sql("select * from sessions").keys()
    db.dispose()


def test_export_on_each_database(client, tenant):
    """SQLite and PostgreSQL: every response once, pretest flags, practice left out."""
    from helpers import run_test

    published, truth = banks(seed=4)
    reply = client.post("/v1/banks", json=json.loads(bank_to_json(published)), headers=tenant.admin)
    version = reply.json()["version"]
    reply = client.post(
        "/v1/assessments",
        headers=tenant.admin,
        json={"bank": "live", "bank_version": version, "config": CONFIG},
    )
    assessment = reply.json()["assessment_id"]
    sessions = [
        run_test(client, tenant.deliver, assessment, truth, theta=t, seed=k)[0]
        for k, t in enumerate(np.linspace(-1, 1, 6))
    ]
    refused = client.post(
        "/v1/sessions",
        headers=tenant.deliver,
        json={"assessment_id": assessment, "examinee_ref": "p", "practice": True},
    )  # a secure test's items are never rehearsed
    assert refused.status_code == 422 and "practice" in refused.json()["error"]["message"]
    reply = client.post(
        "/v1/assessments",
        headers=tenant.admin,
        json={"bank": "live", "bank_version": version, "config": PRACTICE},
    )
    practice = client.post(
        "/v1/sessions",
        headers=tenant.deliver,
        json={"assessment_id": reply.json()["assessment_id"], "examinee_ref": "p"},
    )
    assert practice.status_code == 201
    body = practice.json()
    assert body["item"]["item_id"].startswith("pr")
    client.post(
        f"/v1/sessions/{body['session_id']}/responses",
        headers=tenant.deliver,
        json={"item_id": body["item"]["item_id"], "seq": 1, "response": 0},
    )
    reply = client.get(
        f"/v1/banks/live/versions/{version}/responses?format=parquet", headers=tenant.admin
    )
    assert reply.status_code == 200, reply.text
    frame = pd.read_parquet(io.BytesIO(reply.content))
    assert sorted(frame["session_id"].unique()) == sorted(sessions)
    assert len(frame) == 6 * (CONFIG["max_items"] + CONFIG["pretest_count"])
    assert (frame["scored"] == ~frame["item"].str.startswith("pt")).all()
    assert frame["finished"].all() and str(frame["time"].dtype).startswith("datetime64")
    for session_id in sessions:
        stored = client.get(f"/v1/sessions/{session_id}", headers=tenant.admin).json()
        mine = frame[frame["session_id"] == session_id]
        assert mine["item"].tolist() == [r["item_id"] for r in stored["responses"]]
        assert mine["response"].tolist() == [r["response"] for r in stored["responses"]]
