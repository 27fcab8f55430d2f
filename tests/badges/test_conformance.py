"""eddsa-rdfc-2022 against 1EdTech's published test vector (tests/data/ob3/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from guidance.badges.errors import BadgeError
from guidance.badges.multikey import load_public, load_secret, public_multibase
from guidance.badges.proof import sign, sign_steps, verify_proof

VECTOR = json.loads(
    (Path(__file__).parents[1] / "data" / "ob3" / "eddsa_rdfc_2022_test_vector.json").read_text()
)


@pytest.fixture(scope="module")
def steps():
    key = load_secret(VECTOR["secretKeyMultibase"])
    return sign_steps(VECTOR["credential"], VECTOR["proof_options"], key)


def test_key_pair_round_trip():
    key = load_secret(VECTOR["secretKeyMultibase"])
    assert public_multibase(key.public_key()) == VECTOR["publicKeyMultibase"]


def test_canonical_nquads(steps):
    assert steps.document_nquads == VECTOR["document_normalized_nquads"]
    assert steps.proof_nquads == VECTOR["proof_normalized_nquads"]


def test_hashes_and_data_to_sign(steps):
    assert steps.document_hash.hex() == VECTOR["document_hash_hex"]
    assert steps.proof_hash.hex() == VECTOR["proof_hash_hex"]
    assert steps.data_to_sign.hex() == VECTOR["data_to_sign_hex"]


def test_signature_and_proof_value(steps):
    assert steps.signature.hex() == VECTOR["signature_hex"]
    assert steps.proof_value == VECTOR["proof"]["proofValue"]
    key = load_secret(VECTOR["secretKeyMultibase"])
    signed = sign(VECTOR["credential"], VECTOR["proof_options"], key)
    assert signed == VECTOR["signed_credential"]


def test_signed_credential_verifies():
    verify_proof(VECTOR["signed_credential"], load_public(VECTOR["publicKeyMultibase"]))


@pytest.mark.parametrize(
    "path, value",
    [
        (("name",), "Teamwork Badgf"),
        (("validFrom",), "2010-01-01T00:00:01Z"),
        (("credentialSubject", "id"), "did:example:ebfeb1f712ebc6f1c276e12ec22"),
        (("proof", "created"), "2010-01-01T19:23:25Z"),
    ],
)
def test_any_change_fails(path, value):
    doc = copy.deepcopy(VECTOR["signed_credential"])
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(BadgeError) as err:
        verify_proof(doc, load_public(VECTOR["publicKeyMultibase"]))
    assert err.value.code == "bad_signature"


def test_undefined_term_is_refused():
    doc = copy.deepcopy(VECTOR["signed_credential"])
    doc["extra"] = "rides along unsigned"
    with pytest.raises(BadgeError) as err:
        verify_proof(doc, load_public(VECTOR["publicKeyMultibase"]))
    assert err.value.code == "invalid_badge"


def test_unbundled_context_is_refused():
    doc = copy.deepcopy(VECTOR["signed_credential"])
    doc["@context"].append("https://example.com/ctx.json")
    with pytest.raises(BadgeError) as err:
        verify_proof(doc, load_public(VECTOR["publicKeyMultibase"]))
    assert err.value.code == "unknown_context"


def test_readme_example_runs(monkeypatch):
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme.split("## Verifiable results: Open Badges 3.0 proofs", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(root)
    exec(compile(code, "README.md (Verifiable results)", "exec"), {})
