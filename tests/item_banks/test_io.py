"""Bank files: exact JSON and CSV round trips, and every problem of a bad file at once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from item_banks import BankValidationError, Item, ItemBank, read_bank, write_bank
from item_banks.io import bank_from_csv, bank_from_json, bank_to_csv, bank_to_json

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-9, max_value=50.0, allow_nan=False)
safe_chars = st.characters(blacklist_characters=";\r\n\x00", blacklist_categories=("Cs",))
label = st.text(alphabet=safe_chars, min_size=1).filter(str.strip)


@st.composite
def items(draw: st.DrawFn, item_id: str) -> Item:
    model = draw(st.sampled_from(["rasch", "2pl", "3pl", "4pl", "grm", "gpcm", "pcm", "rsm"]))
    a, b = draw(positive), draw(finite)
    c = draw(st.floats(0.0, 0.5, exclude_max=True))
    if model == "rasch":
        params = {"b": b}
    elif model == "2pl":
        params = {"a": a, "b": b}
    elif model == "3pl":
        params = {"a": a, "b": b, "c": c}
    elif model == "4pl":
        params = {"a": a, "b": b, "c": c, "u": draw(st.floats(0.51, 1.0))}
    else:
        k = draw(st.integers(3, 7))
        steps = sorted(draw(st.lists(finite, min_size=k - 1, max_size=k - 1, unique=True)))
        prefix = {"grm": {"a": a}, "gpcm": {"a": a}, "pcm": {}, "rsm": {"b": b}}[model]
        name = "t" if model == "rsm" else "b"
        params = {**prefix, **{f"{name}{j + 1}": s for j, s in enumerate(steps)}}
    se = {k: abs(v) / 10 for k, v in params.items()} if draw(st.booleans()) else {}
    return Item(
        item_id,
        model,
        params,
        se=se,
        content_areas=draw(st.lists(label, max_size=2)),
        enemy_groups=draw(st.lists(label, max_size=2)),
        status=draw(st.sampled_from(["operational", "pretest", "retired"])),
        tags=draw(st.lists(label, max_size=2)),
    )


@st.composite
def banks(draw: st.DrawFn) -> ItemBank:
    ids = draw(st.lists(label, min_size=1, max_size=6, unique=True))
    return ItemBank(
        [draw(items(i)) for i in ids],
        name="round-trip",
        version="3",
        description="test",
        provenance={"seed": 1, "software": "zapcat"},
    )


@settings(max_examples=60, deadline=None)
@given(banks())
def test_json_round_trip_is_exact(bank: ItemBank) -> None:
    again = bank_from_json(bank_to_json(bank))
    assert again == bank
    assert bank_to_json(again) == bank_to_json(bank)


@settings(max_examples=60, deadline=None)
@given(banks())
def test_csv_round_trip_is_exact(tmp_path_factory: pytest.TempPathFactory, bank: ItemBank) -> None:
    path = tmp_path_factory.mktemp("csv") / "round-trip.csv"
    path.write_text(bank_to_csv(bank), encoding="utf-8")
    again = bank_from_csv(path, version="3", description="test")
    assert again.items == bank.items
    for old, new in zip(bank, again, strict=True):  # bit-exact floats
        assert all(
            np.float64(old.params[k]).tobytes() == np.float64(v).tobytes()
            for k, v in new.params.items()
        )


def test_files_by_suffix(tmp_path: Path) -> None:
    bank = ItemBank([Item("001", "2pl", {"a": 1.0, "b": 0.1})], name="ids")
    for suffix in ("json", "csv"):
        path = write_bank(bank, tmp_path / f"ids.{suffix}")
        again = read_bank(path)
        assert again.item_ids == ("001",)  # ids stay strings, leading zeros kept
        assert again.items == bank.items


BAD_CSV = """item_id,model,n_categories,a,b,c,b1,b2,status
q1,2pl,2,0.9,0.1,,,,operational
q1,2pl,2,1.0,0.2,,,,operational
q2,3pl,2,1.1,abc,0.2,,,operational
q3,3pl,2,-1.0,0.0,1.5,,,operational
q4,grm,3,1.0,,,0.5,0.1,operational
q5,wizard,2,1.0,0.0,,,,operational
q6,2pl,2,1.0,nan,,,,operational
q7,grm,4,1.0,,,0.1,0.2,operational
,2pl,2,1.0,0.0,,,,operational
q8,2pl,2,1.0,0.0,,,,deleted
"""


def test_bad_csv_lists_every_problem_with_row_item_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    with pytest.raises(BankValidationError) as info:
        read_bank(path)
    got = {(p.location, p.item_id, p.field) for p in info.value.problems}
    assert got == {
        ("row 3", "q1", "item_id"),
        ("row 4", "q2", "b"),
        ("row 5", "q3", "a"),
        ("row 5", "q3", "c"),
        ("row 6", "q4", "b2"),
        ("row 7", "q5", "model"),
        ("row 8", "q6", "b"),
        ("row 9", "q7", "params"),
        ("row 10", None, "item_id"),
        ("row 11", "q8", "status"),
    }
    text = str(info.value)
    assert text.startswith(f"{path}: 10 problems")
    for fragment in ("'abc'", "-1.0", "1.5", "'wizard'", "'nan'", "missing b3", "'deleted'"):
        assert fragment in text


def test_bad_json_lists_bank_and_item_problems() -> None:
    doc = {
        "format": "zapcat-bank/0",
        "name": "",
        "items": [
            {"item_id": 7, "model": "2pl", "params": {"a": 1, "b": 0}},
            {"item_id": "x", "model": "2pl", "params": {"a": 1, "b": "high"}, "colour": "red"},
            "not an item",
            {"item_id": "y", "model": "gpcm", "params": {"a": 0, "b1": 0, "b2": 1}},
        ],
    }
    with pytest.raises(BankValidationError) as info:
        bank_from_json(json.dumps(doc), source="bank.json")
    got = {(p.location, p.item_id, p.field) for p in info.value.problems}
    assert got == {
        (None, None, "format"),
        (None, None, "name"),
        ("items[0]", None, "item_id"),
        ("items[1]", "x", "b"),
        ("items[1]", "x", "colour"),
        ("items[2]", None, "items"),
        ("items[3]", "y", "a"),
    }
    assert "'zapcat-bank/0'" in str(info.value)


def test_invalid_json_and_empty_csv_are_clear(tmp_path: Path) -> None:
    with pytest.raises(BankValidationError, match=r"line 1 column 2.*invalid JSON"):
        bank_from_json("{oops")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BankValidationError, match="cannot read CSV"):
        read_bank(empty)


# ----------------------------------------------------------------- practice feedback texts
def _feedback_bank():
    from item_banks.bank import Item, ItemBank

    return ItemBank([
        Item("p1", "2pl", {"a": 1.2, "b": 0.1}, status="practice",
             feedback={0: 'Not quite: "for" runs, then checks; see 3, 4\nnext line',
                       1: "Right — the loop stops at n."}),
        Item("p2", "grm", {"a": 1.0, "b1": -0.5, "b2": 0.9}, status="practice",
             feedback={2: "Full marks."}),
        Item("q1", "2pl", {"a": 0.9, "b": -0.2}),
    ], name="fb")  # fmt: skip


def test_feedback_texts_round_trip_json_and_csv():
    from item_banks.io import bank_from_csv, bank_from_json, bank_to_csv, bank_to_json

    bank = _feedback_bank()
    assert bank_from_json(bank_to_json(bank)).to_dict() == bank.to_dict()
    text = bank_to_csv(bank)
    assert text.splitlines()[0].endswith("feedback_0,feedback_1,feedback_2")
    back = bank_from_csv(io.StringIO(text), name="fb")
    assert back.to_dict() == bank.to_dict()
    assert back["p1"].feedback[0].endswith("next line")
    assert back["p2"].feedback == {2: "Full marks."}
    assert back["q1"].feedback == {} and "feedback" not in back["q1"].to_dict()


def test_feedback_problems_name_item_field_and_row():
    from item_banks.errors import BankValidationError
    from item_banks.io import bank_from_csv, bank_from_dict, bank_to_csv

    bank = _feedback_bank()
    doc = bank.to_dict()
    doc["items"][0]["feedback"] = {"x": "?", "1": 7}
    with pytest.raises(BankValidationError) as err:
        bank_from_dict(doc)
    text = str(err.value)
    assert "items[0], item 'p1'" in text and "feedback['x']" in text and "got 7" in text
    doc = bank.to_dict()
    doc["items"][1]["feedback"] = {"3": "too high", "0": " "}
    with pytest.raises(BankValidationError) as err:
        bank_from_dict(doc)
    text = str(err.value)
    assert "category 3 is not one of the item's categories 0..2" in text
    assert "must not be empty" in text
    csv = bank_to_csv(bank).replace("feedback_2", "feedback_7")
    with pytest.raises(BankValidationError) as err:
        bank_from_csv(io.StringIO(csv), name="fb")
    assert "row 3" in str(err.value) and "category 7" in str(err.value)
