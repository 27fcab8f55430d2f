"""Calibration on a Dask cluster (LocalCluster, 2 worker processes) = the in-memory fit."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from calibration import Calibrator, ResponseData
from calibration.distributed import partition
from calibration.simulate import simulate_responses
from item_banks.bank import Item, ItemBank

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _sparse_2pl(n: int, m: int, answered: int, seed: int) -> tuple[ResponseData, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.lognormal(0, 0.3, m), rng.normal(size=m)
    bank = ItemBank([Item(f"i{j}", "2pl", {"a": a[j], "b": b[j]}) for j in range(m)], name="t")
    mask = np.zeros((n, m), dtype=bool)
    np.put_along_axis(mask, np.argsort(rng.random((n, m)), axis=1)[:, :answered], True, axis=1)
    x = simulate_responses(bank, rng.normal(size=n), rng, answered=mask)
    return ResponseData.from_matrix(x, item_ids=[f"i{j}" for j in range(m)]), a


def _compare(local, remote) -> None:
    p, q = local.result_.params, remote.result_.params
    assert list(p.index) == list(q.index)
    est = [c for c in p.columns if c not in ("model", "n_categories")]
    np.testing.assert_allclose(q[est].to_numpy(float), p[est].to_numpy(float), rtol=0, atol=1e-8)
    assert abs(local.result_.loglik - remote.result_.loglik) < 1e-6
    assert local.n_iter_ == remote.n_iter_


def test_sparse_2pl_on_two_workers_matches_the_in_memory_fit(client) -> None:
    data, a = _sparse_2pl(3000, 40, 15, seed=11)
    local = Calibrator("2pl").fit(data)
    remote = Calibrator("2pl", client=client).fit(data)
    _compare(local, remote)
    assert np.all(np.isfinite(remote.result_.params["a_se"]))
    assert remote.result_.posterior is None  # the persons' posteriors stay on the workers
    # and the estimates are estimates: near the generating slopes
    assert np.sqrt(np.mean((remote.result_.params["a"].to_numpy() - a) ** 2)) < 0.2


def test_dense_mixed_models_and_crossprod_on_two_workers(client) -> None:
    rng = np.random.default_rng(5)
    items = [Item(f"q{j}", "2pl", {"a": 1.0 + 0.1 * j, "b": -1 + 0.2 * j}) for j in range(8)]
    items += [Item(f"g{j}", "grm", {"a": 1.2, "b1": -1.0 + 0.3 * j, "b2": 0.5 + 0.2 * j})
              for j in range(4)]  # fmt: skip
    x = simulate_responses(ItemBank(items, name="t"), rng.normal(size=2500), rng)
    data = ResponseData.from_matrix(x, item_ids=[it.item_id for it in items])
    models = {f"g{j}": "grm" for j in range(4)}
    for se in ("louis", "crossprod"):
        local = Calibrator("2pl", item_models=models, se_method=se).fit(data)
        remote = Calibrator("2pl", item_models=models, se_method=se, client=client).fit(data)
        _compare(local, remote)


def test_long_parquet_is_read_by_the_workers(client, tmp_path) -> None:
    data, _ = _sparse_2pl(2000, 30, 12, seed=3)
    frame = pd.DataFrame(
        {
            "person": np.asarray(data.person_ids)[data.person],
            "item": np.asarray(data.item_ids)[data.item],
            "response": data.category,
        }
    ).sort_values(["person", "item"], key=lambda s: s.astype(int) if s.name == "person" else s)
    path = tmp_path / "log.parquet"
    frame.to_parquet(path, row_group_size=4800)  # whole persons per row group: 12 rows each
    local = Calibrator("2pl").fit(ResponseData.from_matrix(data.to_matrix(),
                                                           item_ids=data.item_ids))  # fmt: skip
    parts = partition(client, path)
    assert len(parts.parts) > 1 and parts.n_observed == data.n_observed
    # the partitions are spread evenly: the same memory on every worker
    distributed.wait(parts.parts)
    held = Counter(w for ws in client.who_has(parts.parts).values() for w in ws)
    assert sorted(held) == sorted(client.scheduler_info()["workers"])
    assert max(held.values()) - min(held.values()) <= 1, held
    remote = Calibrator("2pl", client=client).fit(parts)
    # every task ran where its partition is: no partition was copied to another worker
    where = client.who_has(parts.parts)
    assert [tuple(where[f.key]) for f in parts.parts] == [(w,) for w in parts.owners]
    order = list(remote.result_.params.index)
    p = local.result_.params.loc[order]
    np.testing.assert_allclose(
        remote.result_.params[["a", "b", "a_se", "b_se"]].to_numpy(),
        p[["a", "b", "a_se", "b_se"]].to_numpy(),
        rtol=0,
        atol=1e-8,
    )


def test_a_person_split_over_partitions_is_refused(client, tmp_path) -> None:
    from item_banks.errors import ResponseDataError

    frame = pd.DataFrame(
        {"person": np.repeat(np.arange(100), 5), "item": np.tile(list("abcde"), 100),
         "response": np.arange(500) % 2}
    )  # fmt: skip
    path = tmp_path / "split.parquet"
    frame.to_parquet(path, row_group_size=7)  # 7 rows: persons cut in two
    with pytest.raises(ResponseDataError, match="more than one partition"):
        partition(client, path)


def test_cli_scheduler_option_calibrates_on_the_cluster(client, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    data, _ = _sparse_2pl(1500, 20, 10, seed=8)
    frame = pd.DataFrame(
        {
            "person": np.asarray(data.person_ids)[data.person],
            "item": np.asarray(data.item_ids)[data.item],
            "response": data.category,
        }
    )
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    address = client.scheduler.address
    out = tmp_path / "bank.json"
    args = ["calibrate", str(path), "--layout", "long", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--scheduler", address])
    assert result.exit_code == 0, result.output
    local = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "local.json")])
    assert local.exit_code == 0, local.output
    remote_items = {it["item_id"]: it for it in json.loads(out.read_text())["items"]}
    for it in json.loads((tmp_path / "local.json").read_text())["items"]:
        other = remote_items[it["item_id"]]
        for name, value in it["params"].items():
            assert abs(other["params"][name] - value) < 1e-8
        for name, value in it["se"].items():
            assert abs(other["se"][name] - value) < 1e-8


def test_the_client_never_holds_the_persons(client, tmp_path, monkeypatch) -> None:
    """No persons x points array (nor the responses) on the client during a cluster fit.

    The client process is watched two ways: the E-step's person-level functions must not
    run in it (the workers are other processes), and tracemalloc's peak of the allocations
    made while the file is partitioned and while it is fitted (numpy reports its arrays)
    stays below the responses and far below one persons x points array. Before the
    partitions' empty-person check sent only ids back, the whole partitions came to the
    client and the fit's peak was the data's size.
    """
    import tracemalloc

    import calibration._em as em

    n, m, answered = 60_000, 50, 10
    data, _ = _sparse_2pl(n, m, answered, seed=21)
    frame = pd.DataFrame(
        {"person": data.person.astype(np.int64), "item": np.asarray(data.item_ids)[data.item],
         "response": data.category.astype(np.int8)}
    ).sort_values("person", kind="stable")  # fmt: skip
    assert (frame.groupby("person").size() == answered).all()
    path = tmp_path / "log.parquet"
    frame.to_parquet(path, row_group_size=15_000 * answered)  # whole persons per row group
    del data, frame

    def refuse(*args, **kwargs):
        raise AssertionError("a person-level E-step ran on the client")

    for name in ("_posterior", "_posterior_points"):
        monkeypatch.setattr(em, name, refuse)
    monkeypatch.setattr(em.EMProblem, "_estep_chunks", refuse)
    tracemalloc.start()
    try:
        parts = partition(client, path)
        _, partition_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fit = Calibrator("2pl", client=client).fit(parts)
        _, fit_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fit.converged_ and fit.result_.posterior is None
    assert np.all(np.isfinite(fit.result_.params["a_se"]))
    persons_by_points = n * fit.problem_.theta.size * 8  # 29 MB
    responses = n * answered * (8 + 4 + 1)  # person, item, category: 7.8 MB
    assert partition_peak < responses, (partition_peak, responses)  # 3.4 MB measured
    assert fit_peak < responses / 2, (fit_peak, responses)  # 2.4 MB measured
    assert fit_peak < persons_by_points / 10
