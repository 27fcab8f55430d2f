"""Bitstring Status List v1.0 against the W3C Recommendation's examples and other implementations.

Independent truths:
- SPEC: the ``BitstringStatusListCredential`` example of the Recommendation (w3c/vc-bitstring-
  status-list, index.html at 74fcae1, section 2.2), 131,072 entries, none set; and its
  ``BitstringStatusListEntry`` example (``statusListIndex`` "94567").
- DB: Digital Bazaar's reference library, digitalbazaar/vc-bitstring-status-list
  tests/10-BitstringStatusList.spec.js: a 100,000-entry list, empty and with entry 50,000 set.
- CREDENCE: a Java verifier's test (com.credenceid.credentialstatuscheck UtilsTest): a 131,072-
  entry list in which entry 4000 is set.
"""

from __future__ import annotations

import base64
import copy
import gzip
from datetime import UTC, datetime

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guidance.badges.errors import BadgeError
from guidance.badges.multikey import did_key, did_key_method, public_multibase
from guidance.badges.proof import sign, verify_proof
from guidance.badges.status_list import (
    MIN_LENGTH,
    BitstringStatusList,
    status_list_credential,
    status_list_entry,
)

SPEC_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
SPEC_CREDENTIAL = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "https://example.com/credentials/status/3",
    "type": ["VerifiableCredential", "BitstringStatusListCredential"],
    "issuer": "did:example:12345",
    "validFrom": "2021-04-05T14:27:40Z",
    "credentialSubject": {
        "id": "https://example.com/credentials/status/3#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": SPEC_LIST,
    },
}
SPEC_ENTRY = {
    "id": "https://example.com/credentials/status/3#94567",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "94567",
    "statusListCredential": "https://example.com/credentials/status/3",
}
DB_100K = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQsvoAAAAAAAAAAAAAAAAP4GcwM92tQwAAA"
DB_100K_50K_SET = "uH4sIAAAAAAAAA-3OMQ0AAAgDsElHOh72EJJWQRMAAAAAAIDWXAcAAAAAAIDHFvRitn7UMAAA"
CREDENCE_4000_SET = "uH4sIAAAAAAAAA-3OMQEAAAgDoEU3ugEWwENIQMI3cx0AAAAAAAAAAAAAAAAAAACgLGiNcIEAQAAA"


def _b64(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_spec_example_list_decodes_and_reencodes_byte_for_byte():
    bits = BitstringStatusList.decode(SPEC_LIST)
    assert bits.length == MIN_LENGTH == 131_072
    assert bits.count() == 0
    assert BitstringStatusList().encode() == SPEC_LIST


def test_digital_bazaar_vectors():
    empty = BitstringStatusList.decode(DB_100K, minimum_length=8)
    assert empty.length == 100_000 and empty.count() == 0
    assert BitstringStatusList(100_000, minimum_length=8).encode() == DB_100K
    one = BitstringStatusList(100_000, minimum_length=8)
    one.set(50_000, True)
    assert one.encode() == DB_100K_50K_SET
    back = BitstringStatusList.decode(DB_100K_50K_SET, minimum_length=8)
    assert back.set_indices() == [50_000]
    assert back.get(50_000) and not back.get(49_999) and not back.get(50_001)


def test_other_implementation_index_4000():
    bits = BitstringStatusList.decode(CREDENCE_4000_SET)
    assert bits.length == 131_072
    assert bits.set_indices() == [4000]


def test_index_zero_is_the_left_most_bit():
    bits = BitstringStatusList()
    bits.set(0, True)
    bits.set(15, True)
    raw = bits.to_bytes()
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0000_0001 and sum(raw) == 0x81
    # the same bytes through the standard library's gzip: the encoding is plain GZIP + base64url
    assert gzip.decompress(base64.urlsafe_b64decode(bits.encode()[1:] + "==")) == raw


def test_round_trip_random_statuses_and_clearing():
    rng = np.random.default_rng(15)
    indices = sorted({int(i) for i in rng.integers(0, 262_144, size=500)})
    bits = BitstringStatusList(262_144)
    for i in indices:
        bits.set(i, True)
    back = BitstringStatusList.decode(bits.encode())
    assert back == bits and back.set_indices() == indices and back.count() == len(indices)
    back.set(indices[0], False)
    assert not back.get(indices[0]) and back.count() == len(indices) - 1
    assert BitstringStatusList.from_bytes(bits.to_bytes()) == bits


@pytest.mark.parametrize(
    "encoded, code, words",
    [
        (SPEC_LIST[1:], "invalid_status_list", "starting with 'u'"),
        (SPEC_LIST + "=", "invalid_status_list", "padding"),
        (SPEC_LIST[:20] + "+" + SPEC_LIST[21:], "invalid_status_list", "position 20"),
        (_b64(bytes(16384)), "invalid_status_list", "GZIP stream"),
        (_b64(gzip.compress(bytes(16384))[:-12]), "invalid_status_list", "truncated"),
        (_b64(gzip.compress(bytes(16384)) + b"xx"), "invalid_status_list", "after the GZIP"),
        (_b64(b"\x1f\x8b" + b"\x00" * 30), "invalid_status_list", "bad GZIP"),
        (DB_100K, "status_list_too_short", "100000 entries"),
        (_b64(gzip.compress(bytes(16383))), "status_list_too_short", "131064 entries"),
        (12, "invalid_status_list", "must be a string"),
    ],
    ids=["no-u", "padded", "bad-char", "not-gzip", "truncated", "trailing", "corrupt",
         "too-short", "one-byte-short", "not-str"],
)  # fmt: skip
def test_decode_errors_are_named(encoded, code, words):
    with pytest.raises(BadgeError) as err:
        BitstringStatusList.decode(encoded)
    assert err.value.code == code
    assert words in err.value.message


def test_decode_refuses_a_gzip_bomb():
    bomb = BitstringStatusList(8 * 2**20).encode()  # 1 MiB of zeros, ~1 KB compressed
    assert len(bomb) < 2000
    with pytest.raises(BadgeError, match="more than 65536 bytes"):
        BitstringStatusList.decode(bomb, max_bytes=65_536)


@pytest.mark.parametrize(
    "call, code",
    [
        (lambda: BitstringStatusList(1000), "status_list_too_short"),
        (lambda: BitstringStatusList(131_073), "invalid_status_list"),
        (lambda: BitstringStatusList().get(131_072), "status_index_out_of_range"),
        (lambda: BitstringStatusList().get(-1), "status_index_out_of_range"),
        (lambda: BitstringStatusList().set(True, True), "invalid_status_index"),
        (lambda: BitstringStatusList().set(3, 2), "invalid_status_value"),
        (lambda: status_list_entry("https://x.org/s", -1), "invalid_status_index"),
        (lambda: status_list_entry("https://x.org/s", "7"), "invalid_status_index"),
        (lambda: status_list_entry("status/3", 7), "invalid_status_list"),
        (lambda: status_list_entry("https://x.org/s#list", 7), "invalid_status_list"),
        (lambda: status_list_entry("https://x.org/s", 7, "message"), "invalid_status_purpose"),
    ],
)
def test_bad_arguments(call, code):
    with pytest.raises(BadgeError) as err:
        call()
    assert err.value.code == code


def test_entry_matches_the_spec_example():
    assert status_list_entry("https://example.com/credentials/status/3", 94567) == SPEC_ENTRY
    assert status_list_entry("https://x.org/s", 0, "suspension")["statusPurpose"] == "suspension"


def test_credential_matches_the_spec_example():
    made = status_list_credential(
        "did:example:12345",
        "https://example.com/credentials/status/3",
        BitstringStatusList(),
        datetime(2021, 4, 5, 14, 27, 40, tzinfo=UTC),
    )
    assert made == SPEC_CREDENTIAL


def test_credential_validity_and_errors():
    made = status_list_credential(
        "did:example:1", "https://x.org/s", BitstringStatusList(),
        datetime(2026, 1, 1, tzinfo=UTC), valid_until=datetime(2026, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    assert made["validUntil"] == "2026-01-02T00:00:00Z"
    with pytest.raises(BadgeError, match="timezone-aware"):
        status_list_credential("did:example:1", "https://x.org/s", BitstringStatusList(),
                               datetime(2026, 1, 1))  # fmt: skip
    with pytest.raises(BadgeError, match="later than validFrom"):
        status_list_credential(
            "did:example:1", "https://x.org/s", BitstringStatusList(),
            datetime(2026, 1, 2, tzinfo=UTC), valid_until=datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip


@pytest.mark.parametrize("profile", [False, True], ids=["issuer-id", "issuer-profile"])
def test_status_list_credential_signs_and_verifies(profile):
    key = Ed25519PrivateKey.generate()
    pub = public_multibase(key.public_key())
    issuer = {"id": did_key(pub), "type": ["Profile"], "name": "Demo"} if profile else did_key(pub)
    bits = BitstringStatusList()
    bits.set(94567, True)
    unsigned = status_list_credential(
        issuer, "https://badges.example.org/v1/status/demo/1", bits,
        datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    options = {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z", "verificationMethod": did_key_method(pub),
        "proofPurpose": "assertionMethod",
    }  # fmt: skip
    signed = sign(unsigned, options, key)
    verify_proof(signed, key.public_key())
    # one more revoked bit, same signature: refused
    tampered = copy.deepcopy(signed)
    more = BitstringStatusList.decode(tampered["credentialSubject"]["encodedList"])
    more.set(7, True)
    tampered["credentialSubject"]["encodedList"] = more.encode()
    with pytest.raises(BadgeError) as err:
        verify_proof(tampered, key.public_key())
    assert err.value.code == "bad_signature"
