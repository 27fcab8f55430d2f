from __future__ import annotations

import copy
import csv
import json

import pytest

from guidance.catalogue import (
    CatalogueValidationError,
    catalogue_from_dict,
    check_against_levels,
    read_catalogue,
)
from item_banks.examples.battery_demo import BATTERY_DEMO_DIR, DEMO_CATALOGUE_PATH


def demo_doc() -> dict:
    return json.loads(DEMO_CATALOGUE_PATH.read_text())


def test_demo_catalogue_reads_with_real_esco_uris():
    cat = read_catalogue(DEMO_CATALOGUE_PATH)
    assert 12 <= len(cat.credentials) <= 20
    assert {r.role_id for r in cat.roles} == {
        "junior-developer", "project-coordinator", "ux-designer"}
    # every URI used is in the ESCO excerpt copied from the ESCO skills list
    with open(BATTERY_DEMO_DIR / "esco_skills_excerpt.csv", newline="") as f:
        known = {row["uri"] for row in csv.DictReader(f)}
    used = {u for c in cat.credentials for u in c.esco_uris}
    assert used and used <= known
    assert "ESCO" in cat.attribution and "European Union" in cat.attribution
    check_against_levels(cat, {s: ["Foundation", "Practitioner", "Expert"]
                               for s in ("coding", "project-management", "design")})


def test_every_problem_named_with_its_place():
    doc = demo_doc()
    doc["format"] = "zapcat-catalogue/9"
    doc["credentials"][0]["hours"] = -3
    doc["credentials"][1]["esco_uris"] = ["http://example.org/skill/1"]
    doc["credentials"][2]["develops"] = []
    doc["credentials"][3]["credential_id"] = doc["credentials"][4]["credential_id"]
    doc["credentials"][5]["currency"] = "euro"
    doc["roles"][0]["requires"][0]["importance"] = 7
    doc["roles"][1]["onet_soc"] = "1511"
    doc["roles"][2]["requires"].append(copy.deepcopy(doc["roles"][2]["requires"][0]))
    with pytest.raises(CatalogueValidationError) as err:
        catalogue_from_dict(doc)
    problems = err.value.details["problems"]
    text = "\n".join(problems)
    for expected in [
        "format: must be 'zapcat-catalogue/1', got 'zapcat-catalogue/9'",
        "credentials[0].hours: must be a number >= 0, got -3",
        "credentials[1].esco_uris[0]: not an ESCO skill URI",
        "credentials[2].develops: a credential must develop at least one skill",
        "credentials[4]: id 'design-patterns' appears more than once",
        "credentials[5].currency: must be an ISO 4217 code like EUR, got 'euro'",
        "roles[0].requires[0].importance: must be an integer 1-5, got 7",
        "roles[1].onet_soc: not an O*NET-SOC code",
        "roles[2].requires[3].skill_id: 'design' required twice",
    ]:
        assert expected in text, (expected, problems)
    assert len(problems) == 9
    assert err.value.code == "invalid_catalogue"


def test_levels_checked_against_the_battery():
    cat = catalogue_from_dict(demo_doc())
    levels = {s: ["Foundation", "Practitioner", "Expert"]
              for s in ("coding", "project-management")}
    with pytest.raises(CatalogueValidationError) as err:
        check_against_levels(cat, levels, role_id="ux-designer")
    assert any("roles[2].requires[0].skill_id: 'design' is not assessed" in p
               for p in err.value.problems)
    doc = demo_doc()
    doc["credentials"][0]["develops"][0]["to_level"] = "Master"
    with pytest.raises(CatalogueValidationError) as err:
        check_against_levels(catalogue_from_dict(doc), {**levels, "design": levels["coding"]})
    assert err.value.problems == (
        "credentials[0].develops[0].to_level: level 'Master' is not a level of skill "
        "'coding' (levels: Foundation, Practitioner, Expert)",)


def test_bad_json_and_unknown_role(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"format": ')
    with pytest.raises(CatalogueValidationError, match="not valid JSON"):
        read_catalogue(p)
    with pytest.raises(CatalogueValidationError, match="role 'astronaut' is not in catalogue"):
        catalogue_from_dict(demo_doc()).role("astronaut")
