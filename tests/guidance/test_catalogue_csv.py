"""The catalogue's CSV table: round trips with JSON, located errors, CLI and service."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app
from guidance.catalogue import (
    FORMAT,
    CatalogueValidationError,
    catalogue_from_dict,
    read_catalogue,
)
from guidance.catalogue_csv import catalogue_from_csv, catalogue_to_csv
from item_banks.examples.battery_demo import DEMO_CATALOGUE_PATH
from tests.guidance.test_recommend_cli import ENV, PROFILE

DEMO = read_catalogue(DEMO_CATALOGUE_PATH)


def same(a, b) -> bool:
    """Equal catalogues (the document they were read from aside)."""
    fields = [f.name for f in dataclasses.fields(a) if f.name != "document"]
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def test_demo_round_trips_json_csv_json():
    text = catalogue_to_csv(DEMO)
    back = catalogue_from_csv(io.StringIO(text))
    assert same(back, DEMO)
    assert catalogue_to_csv(back) == text
    again = catalogue_from_dict(json.loads(json.dumps(back.to_dict())))
    assert same(again, DEMO)
    kinds = [line.split(",", 1)[0] for line in text.splitlines()[1:]]
    n_dev = sum(len(c.develops) for c in DEMO.credentials)
    assert kinds.count("credential") == len(DEMO.credentials) and kinds.count("develops") == n_dev
    assert kinds.count("requires") == sum(len(r.requires) for r in DEMO.roles)


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(
    [",", '"', "\n", ";"]), min_size=1, max_size=30).filter(lambda s: s.strip() == s and s)
_ident = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
_levels = st.sampled_from(["Foundation", "Practitioner", "Expert"])
_number = st.one_of(st.none(), st.integers(0, 500), st.floats(0, 500, allow_nan=False))


@st.composite
def catalogues(draw):
    ids = draw(st.lists(_ident, min_size=1, max_size=4, unique=True))
    creds = []
    for cid in ids:
        creds.append({
            "credential_id": cid, "title": draw(_text), "provider": draw(_text),
            "url": draw(st.one_of(st.none(), st.just(f"https://x.example/{cid}"))),
            "hours": draw(_number), "cost": draw(_number),
            "develops": [{"skill_id": draw(_ident), "from_level": draw(st.one_of(st.none(),
                          _levels)), "to_level": draw(_levels)}
                         for _ in range(draw(st.integers(1, 3)))],
            "prerequisites": [{"skill_id": draw(_ident), "level": draw(_levels)}
                              for _ in range(draw(st.integers(0, 2)))],
            "esco_uris": [], "tags": draw(st.lists(_ident, max_size=3)),
        })  # fmt: skip
    roles = [{"role_id": rid, "title": draw(_text),
              "requires": [{"skill_id": f"s{k}", "level": draw(_levels),
                            "importance": draw(st.integers(1, 5))}
                           for k in range(draw(st.integers(1, 3)))]}
             for rid in draw(st.lists(_ident, max_size=3, unique=True))]  # fmt: skip
    for c in creds:  # optional fields left out, as a JSON author would
        for k in ("url", "hours", "cost"):
            if c[k] is None:
                del c[k]
        for d in c["develops"]:
            if d["from_level"] is None:
                del d["from_level"]
    return catalogue_from_dict({"format": FORMAT, "name": "gen", "version": "3",
                                "description": draw(_text), "attribution": "",
                                "credentials": creds, "roles": roles})  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(catalogues())
def test_any_catalogue_round_trips(cat):
    back = catalogue_from_csv(io.StringIO(catalogue_to_csv(cat)))
    assert same(back, cat)


def test_problems_name_row_column_and_value():
    lines = catalogue_to_csv(DEMO).splitlines()
    row = {n: line for n, line in enumerate(lines, start=1)}
    cred_row = next(n for n, line in row.items() if line.startswith("credential,prog-fund"))
    req_row = next(n for n, line in row.items() if line.startswith("requires,,junior-dev"))
    lines[cred_row - 1] = lines[cred_row - 1].replace(",30,0,EUR,", ",-3,free,EUR,")
    lines[req_row - 1] = lines[req_row - 1].replace("Practitioner,5", "Practitioner,9")
    lines.append("develops,no-such-credential,,coding,,,,,,,,,,,Practitioner,,,,,,")
    lines.append("bogus,,,,,,,,,,,,,,,,,,,,")
    lines.append("role,,ux-designer,,Again,,,,,,,,,,,,,,,,")
    with pytest.raises(CatalogueValidationError) as err:
        catalogue_from_csv(io.StringIO("\n".join(lines) + "\n"))
    problems = err.value.details["problems"]
    n = len(lines)
    assert f"row {cred_row}, column hours: must be a number >= 0, got -3" in problems
    assert f"row {cred_row}, column cost: must be a number >= 0, got 'free'" in problems
    assert f"row {req_row}, column importance: must be an integer 1-5, got 9" in problems
    assert any(p.startswith(f"row {n - 2}, column credential_id: 'no-such-credential'")
               for p in problems)  # fmt: skip
    assert any(p.startswith(f"row {n - 1}, column kind: 'bogus'") for p in problems)
    assert any(p.startswith(f"row {n}:") and "appears more than once" in p for p in problems)
    assert any(p.startswith(f"row {n}: requires:") for p in problems)


def test_header_problems():
    with pytest.raises(CatalogueValidationError, match="column 'hourz': unknown column"):
        catalogue_from_csv(io.StringIO("kind,hourz\n"))
    with pytest.raises(CatalogueValidationError, match="the kind column is missing"):
        catalogue_from_csv(io.StringIO("credential_id,title\n"))
    with pytest.raises(CatalogueValidationError, match="no catalogue row names"):
        text = catalogue_to_csv(DEMO).split("\n", 2)
        catalogue_from_csv(io.StringIO(text[0] + "\n" + text[2]))


def test_read_catalogue_and_the_cli_take_csv(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text(catalogue_to_csv(DEMO), encoding="utf-8")
    assert same(read_catalogue(path), DEMO)
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(PROFILE))
    runner = CliRunner()
    outputs = []
    for cat in (DEMO_CATALOGUE_PATH, path):
        res = runner.invoke(app, ["recommend", str(profile), "--catalogue", str(cat),
                                  "--role", "junior-developer", "--json"], env=ENV)
        assert res.exit_code == 0, res.output
        outputs.append(json.loads(res.output))
    assert outputs[0] == outputs[1]
    bad = tmp_path / "bad.csv"
    bad.write_text(catalogue_to_csv(DEMO).replace(",30,0,EUR,", ",-3,0,EUR,"), encoding="utf-8")
    res = runner.invoke(app, ["recommend", str(profile), "--catalogue", str(bad),
                              "--role", "junior-developer"], env=ENV)
    assert res.exit_code == 1 and "column hours: must be a number >= 0, got -3" in res.output
