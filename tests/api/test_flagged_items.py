"""Flagged items over the service and the command line: never given until accepted."""

from __future__ import annotations

import json
from dataclasses import replace

from typer.testing import CliRunner

from api.cli import app as cli
from item_banks.io import bank_to_json, read_bank, write_bank
from tests.api.helpers import make_assessment, mini_bank, run_test

runner = CliRunner()


def _flagged_bank(name: str):
    bank = mini_bank(name, n=30)
    # the five most informative items near theta = 0 are flagged as a calibration would
    order = sorted(bank.items, key=lambda it: -it.params["a"] / (1 + abs(it.params["b"])))
    flagged = {it.item_id for it in order[:5]}
    items = [
        replace(it, flags=("a: slope a = 222.6 (SE 6.955e+05) is diverging (above 10)",))
        if it.item_id in flagged
        else it
        for it in bank
    ]
    return type(bank)(items, name=name), flagged


def test_service_never_delivers_a_flagged_item(client, tenant):
    bank, flagged = _flagged_bank("flagged")
    doc = json.loads(bank_to_json(bank))
    assert sum("flags" in it for it in doc["items"]) == 5
    assessment_id = make_assessment(client, tenant, {"max_items": 25, "stop_se": None}, bank)
    given = set()
    for seed in range(4):
        _, final = run_test(client, tenant.admin, assessment_id, bank, seed=seed)
        given |= {it["item_id"] for it in final["result"]["items"]}
    assert len(given) == 25 and not (given & flagged)


def test_bank_accept_command(tmp_path):
    bank, flagged = _flagged_bank("cli")
    path = tmp_path / "bank.json"
    write_bank(bank, path)
    shown = runner.invoke(cli, ["bank", "validate", str(path)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0
    assert "5 flagged item(s) (diagnostics of their calibration):" in shown.stdout
    assert "zapcat bank accept BANK --item ID (or --all)" in shown.stdout
    first = sorted(flagged)[0]
    bad = runner.invoke(cli, ["bank", "accept", str(path), "--item", "nope"])
    assert bad.exit_code == 1 and "cannot accept not in the bank: nope" in bad.stderr
    done = runner.invoke(cli, ["bank", "accept", str(path), "--item", first])
    assert done.exit_code == 0, done.output
    new = read_bank(path)
    assert new[first].flags_accepted and new[first].usable
    assert all(not new[i].usable for i in flagged - {first})
    done = runner.invoke(
        cli, ["bank", "accept", str(path), "--all", "--out", str(tmp_path / "b.csv")]
    )
    assert done.exit_code == 0
    assert all(it.usable for it in read_bank(tmp_path / "b.csv"))


def test_api_bank_errors_show_plain_numbers(client, tenant):
    doc = json.loads(bank_to_json(mini_bank("neg", n=3)))
    doc["items"][0]["params"]["a"] = -0.5
    reply = client.post("/v1/banks", json=doc, headers=tenant.admin)
    assert reply.status_code == 422
    body = reply.json()["error"]
    assert "discrimination a must be > 0, got -0.5" in body["message"]
    assert "np.float64" not in json.dumps(body)
