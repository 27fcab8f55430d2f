"""Large banks loaded from their columnar arrays (issue 11, defect 7).

A published bank is stored with its ``zapcat-bank-arrays/1`` binary and loaded from it
without parsing; the engine's tables are built a few theta points at a time. Checked
here: the fast path gives the same bank, bit for bit, and the same engine tables and test
results as the old path (one call, parse of the document); versions stored without arrays
are still parsed; and no single uninterruptible call of the load and table build is long
(measured in the building thread's own CPU time, so a busy machine does not change it).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy import select, update

from api.db import Database
from api.models import BankVersion
from api.services import assessments, banks
from api.services.bank_documents import parse_stored
from api.settings import Settings
from engine import session as cat
from engine._tables import GridTables, bank_tables, second_derivative_term
from engine.config import CATConfig
from item_banks.bank import Item, ItemBank
from item_banks.columns import bank_from_arrays, bank_to_arrays, columns_of_items
from item_banks.errors import BankValidationError
from item_banks.io import bank_to_json


def varied_bank(n: int = 300, seed: int = 11) -> ItemBank:
    """Every kind of model and metadata a bank can hold, in a shuffled order."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        a, b = float(rng.lognormal(0.0, 0.3)), float(rng.normal())
        steps = [float(v) for v in np.sort(rng.normal(b, 1.0, 3)) + np.arange(3) * 0.1]
        kind = i % 9
        extra: dict = {}
        if kind == 0:
            model, params = "rasch", {"b": b}
        elif kind == 1:
            model, params = "2pl", {"a": a, "b": b}
            extra["se"] = {"a": 0.05, "b": float(rng.uniform(0.01, 0.2))}
        elif kind == 2:
            model, params = "3pl", {"a": a, "b": b, "c": float(rng.uniform(0.05, 0.3))}
        elif kind == 3:
            model, params = "4pl", {"a": a, "b": b, "c": 0.1, "u": 0.95}
        elif kind == 4:
            model, params = "grm", {"a": a, **{f"b{k + 1}": v for k, v in enumerate(steps)}}
        elif kind == 5:
            model, params = "gpcm", {"a": a, "b1": steps[0], "b2": steps[1]}
        elif kind == 6:
            model, params = "pcm", {f"b{k + 1}": v for k, v in enumerate(steps)}
        elif kind == 7:
            model, params = "1pl", {"a": 1.3, "b": b}
        else:
            model, params = "2pl", {"a": a, "b": b}
            extra.update(flags=["a ran off"], flags_accepted=bool(i % 2), codes=(1, 2))
        items.append(
            Item(
                f"it-{i:04d}-é",  # non-ASCII ids travel as UTF-8
                model,
                params,
                content_areas=[["algebra"], ["geometry", "algebra"], []][i % 3],
                enemy_groups=["e1"] if i % 25 == 0 else (["e2", "e1"] if i % 40 == 1 else []),
                status=["operational", "operational", "pretest", "retired"][i % 4],
                tags=["t"] if i % 7 == 0 else [],
                **extra,
            )
        )
    order = rng.permutation(n)
    return ItemBank([items[j] for j in order], name="varied", version="3",
                    description="every kind", provenance={"tool": "test", "n": n})  # fmt: skip


def test_arrays_give_the_same_bank_bit_for_bit():
    bank = varied_bank()
    loaded = bank_from_arrays(bank_to_arrays(bank), version="3")
    assert loaded.item_ids == bank.item_ids and len(loaded) == len(bank)
    assert np.array_equal(loaded.n_categories, bank.n_categories)
    assert len(loaded.groups) == len(bank.groups)
    for mine, theirs in zip(loaded.groups, bank.groups, strict=True):
        assert (mine.model.name, mine.n_categories) == (theirs.model.name, theirs.n_categories)
        assert np.array_equal(mine.indices, theirs.indices)
        assert mine.params.tobytes() == theirs.params.tobytes()  # bit for bit
        assert not mine.params.flags.writeable
    # metadata columns without decoding a single item
    theirs = columns_of_items(bank.items)
    mine = loaded.columns()
    for field in ("status", "usable", "area_indptr", "area_indices", "enemy_indptr",
                  "enemy_indices"):  # fmt: skip
        assert np.array_equal(getattr(mine, field), getattr(theirs, field)), field
    assert (mine.areas, mine.enemy_groups) == (theirs.areas, theirs.enemy_groups)
    assert loaded._items is None  # nothing decoded so far
    item_id = bank.item_ids[17]
    assert loaded[item_id] == bank[item_id]  # decoded alone
    assert loaded._items is None
    assert loaded == bank  # every item, the name, version, description and provenance
    assert loaded.to_dict() == bank.to_dict()


def test_a_damaged_binary_is_refused_with_a_clear_error():
    blob = bank_to_arrays(varied_bank(20))
    with pytest.raises(BankValidationError, match="arrays"):
        bank_from_arrays(blob[:-10], version="1")
    with pytest.raises(BankValidationError, match="arrays"):
        bank_from_arrays(b"\x00" * 40, version="1")


def _one_call_tables(bank: ItemBank, points: np.ndarray) -> dict[str, np.ndarray]:
    """The tables as the engine computed them before: one model call for everything."""
    lp = np.ascontiguousarray(np.transpose(bank.log_prob(points), (1, 2, 0)))
    return {
        "log_prob": lp,
        "log_prob0": np.where(np.isfinite(lp), lp, 0.0),
        "score": np.ascontiguousarray(np.transpose(bank.dlog_prob_dtheta(points), (1, 2, 0))),
        "info": np.ascontiguousarray(bank.information(points).T),
        "j_term": np.ascontiguousarray(second_derivative_term(bank, points, None).T),
    }


def test_engine_tables_and_tests_are_identical_on_the_fast_path(monkeypatch):
    monkeypatch.setattr("engine._tables.CHUNK_VALUES", 1000)  # many chunks even here
    bank = varied_bank()
    loaded = bank_from_arrays(bank_to_arrays(bank), version="3")
    points = np.linspace(-4.0, 4.0, 41)
    truth = _one_call_tables(bank, points)
    grid = GridTables(loaded, points)
    for name, value in truth.items():
        got = getattr(grid, name)
        assert got.shape == value.shape and got.flags.c_contiguous, name
        assert np.array_equal(got, value, equal_nan=True), name
    lo, step, table, slope = bank_tables(loaded).info_table(-4.0, 4.0)
    fine = lo + step * np.arange(table.shape[0])
    assert np.array_equal(table, bank.information(fine).astype(np.float32))
    assert np.array_equal(slope, np.diff(table, axis=0))
    # the enemies and eligibility the engine derives from the metadata
    for name in ("operational", "pretest", "membership", "enemy_member", "enemy_indptr",
                 "enemy_indices", "slope", "location"):  # fmt: skip
        assert np.array_equal(bank_tables(loaded).meta(name), bank_tables(bank).meta(name)), name
    assert bank_tables(loaded).meta("has_enemies")
    # whole tests: the same items, estimates and stop on both banks
    config = CATConfig.from_dict(
        {"stop_se": 0.3, "max_items": 12, "constraints": {"enemies": True}}
    )
    for seed in range(3):
        runs = []
        for which in (bank, loaded):
            rng = np.random.default_rng(seed)
            state = cat.start(which, config, seed=seed)
            trace = []
            while not state.finished:
                item = state.pending_item
                k = int(which[item].n_categories)
                state = cat.respond(which, config, state, item, int(rng.integers(k)))
                trace.append((item, state.theta, state.se))
            runs.append((trace, state.stop_reason))
        assert runs[0] == runs[1]
    assert loaded._items is None  # tests ran without decoding the whole bank


@pytest.fixture
def db(database_url):
    """The service's database on SQLite and PostgreSQL; each test has its own tenant."""
    database = Database(Settings(database_url))
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def t():
    return f"arrays-{uuid.uuid4().hex[:12]}"


def test_the_service_loads_the_arrays_and_parses_versions_stored_without_them(db, t):
    bank = varied_bank(120)
    document = bank.to_dict()
    summary = banks.publish_bank(db, tenant=t, document=document)
    row = banks.find_bank_version(db, tenant=t, name="varied", version=summary["version"])
    fast = banks.load_bank(db, row)
    assert fast._lazy is not None  # built from the arrays
    with db.read() as session:  # stored as its arrays only: no second copy as JSON text
        stored = session.execute(select(BankVersion.document, BankVersion.arrays)
                                 .where(BankVersion.id == row.id)).one()  # fmt: skip
    assert stored.document == "" and len(stored.arrays) > 0
    old_text = bank_to_json(ItemBank(bank.items, name="varied", version="1",
                            description=bank.description, provenance=bank.provenance))  # fmt: skip
    with db.write() as session:  # as if published before migration 0007
        session.execute(update(BankVersion).where(BankVersion.id == row.id)
                        .values(arrays=None, document=old_text))  # fmt: skip
    banks._BANKS._data.clear()
    slow = banks.load_bank(db, row)
    assert slow._lazy is None
    reference = parse_stored(bank_to_json(ItemBank(bank.items, name="varied", version="1",
                             description=bank.description, provenance=bank.provenance)),
                             source="x")  # fmt: skip
    assert fast == slow == reference
    assert fast.version == slow.version == "1"


def longest_c_call(fn: Callable[[], object]) -> tuple[float, str]:
    """CPU seconds of the longest call into C made by ``fn`` that ran no Python code.

    Such a call cannot be interrupted by the interpreter's switch interval: unless it
    releases the GIL itself, every other thread waits for it. Measured with the calling
    thread's CPU clock (``time.thread_time``), so time lost to other processes on a busy
    machine does not count. Calls of numpy's ufunc objects are not seen (they release the
    GIL over their loops); calls of C functions and methods are.
    """
    stack: list[list] = []
    longest = [0, ""]
    clock = time.thread_time_ns

    def profile(frame, event, arg):
        if event == "c_call":
            stack.append([clock(), arg, False])
        elif event in ("c_return", "c_exception") and stack:
            start, func, reentered = stack.pop()
            spent = clock() - start
            if not reentered and spent > longest[0]:
                where = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
                longest[:] = [spent, f"{getattr(func, '__qualname__', func)} at {where}"]
        elif event == "call" and stack:
            stack[-1][2] = True  # Python code ran inside: interruptible

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return longest[0] / 1e9, longest[1]


def test_loading_a_large_bank_and_building_its_tables_makes_no_long_uninterruptible_call(db, t):
    """20,000 items. Before (parse of the document, tables in one call per model), this
    failed: the table build's longest such call took 19-24 ms (a transposing copy of every
    log-probability, reductions over every item) and the load's 5-6 ms (reading the
    document; 56 ms at 100,000 items), and a server's request threads waited that long
    each time. Now each is under a few milliseconds, however large the bank."""
    rng = np.random.default_rng(5)
    items = []
    for i in range(20_000):
        params = {"a": float(rng.lognormal(0, 0.3)), "b": float(rng.normal())}
        if i % 4 == 0:
            params["c"] = 0.2
        model = "3pl" if i % 4 == 0 else "2pl"
        items.append(Item(f"q{i:05d}", model, params, content_areas=["x"] if i % 2 else []))
    for i in range(0, 20_000, 5):
        params = {"a": 1.0, "b1": -1.0 + i * 1e-5, "b2": 0.0, "b3": 1.0}
        items[i] = Item(f"q{i:05d}", "grm", params, enemy_groups=["g"] if i < 50 else [])
    document = ItemBank(items, name="big").to_dict()
    summary = banks.publish_bank(db, tenant=t, document=document)
    row = banks.find_bank_version(db, tenant=t, name="big", version=summary["version"])
    config = CATConfig.from_dict({"stop_se": 0.3, "max_items": 30})
    built: dict = {}
    load_s, load_at = longest_c_call(lambda: built.setdefault("bank", banks.load_bank(db, row)))
    warm_s, warm_at = longest_c_call(lambda: assessments.warm(built["bank"], config))
    assert built["bank"]._lazy is not None
    assert bank_tables(built["bank"]).plans  # the tables were built
    assert load_s < 0.005, (load_s, load_at)
    assert warm_s < 0.005, (warm_s, warm_at)


def test_a_large_banks_tables_come_from_the_child_process_and_give_the_same_tests(
    db, t, monkeypatch
):
    """The tables are computed by the child and mapped read-only here (no copy)."""
    monkeypatch.setattr(assessments, "CHILD_TABLES_ITEMS", 100)
    bank = varied_bank(400)
    summary = banks.publish_bank(db, tenant=t, document=bank.to_dict())
    config = {"stop_se": 0.3, "max_items": 10}
    created = assessments.create_assessment(
        db, tenant=t, bank="varied", bank_version=summary["version"], config=config
    )
    row = banks.find_bank_version(db, tenant=t, name="varied", version=summary["version"])
    served = banks.load_bank(db, row)
    grids = bank_tables(served)._grids
    assert grids and all(not g.log_prob.flags.writeable for g in grids.values())  # mapped
    for grid in grids.values():
        truth = _one_call_tables(bank, grid.points)
        assert np.array_equal(grid.log_prob, truth["log_prob"])
        assert np.array_equal(grid.log_prob0, truth["log_prob0"])
    engine_config = CATConfig.from_dict(created["config"], served)
    for seed in range(3):
        runs = []
        for which in (bank, served):
            rng = np.random.default_rng(seed)
            state = cat.start(which, engine_config, seed=seed)
            while not state.finished:
                item = state.pending_item
                k = int(which[item].n_categories)
                state = cat.respond(which, engine_config, state, item, int(rng.integers(k)))
            runs.append((state.theta_history, state.se_history, state.stop_reason))
        assert runs[0] == runs[1]


def test_after_a_restart_the_first_start_also_gets_the_tables_from_the_child(db, t, monkeypatch):
    monkeypatch.setattr(assessments, "CHILD_TABLES_ITEMS", 100)
    bank = varied_bank(300)
    summary = banks.publish_bank(db, tenant=t, document=bank.to_dict())
    created = assessments.create_assessment(
        db, tenant=t, bank="varied", bank_version=summary["version"], config={"max_items": 8}
    )
    banks._BANKS._data.clear()  # a new server process: nothing cached
    assessments._LOADED._data.clear()
    with db.read() as session:
        served, config = assessments.load_assessment(
            db, session, tenant=t, assessment_id=created["assessment_id"]
        )
    grids = bank_tables(served)._grids
    assert grids and all(not g.log_prob.flags.writeable for g in grids.values())
    assert cat.start(served, config, seed=4) == cat.start(bank, config, seed=4)
