"""Any JSON given to the verifiers gives a result with known codes, never an exception."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from guidance.badges.jwt import trusted_keys, verify_jwt
from guidance.badges.status_list import status_list_entry
from guidance.badges.verify import ERROR_CODES, verify_credential
from tests.badges.test_verify_status import REVOKE_URL, _badge, _list

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip
BADGE = _badge(status_list_entry(REVOKE_URL, 3))
LIST = _list()
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for pos, value in enumerate(node):
            yield (*prefix, pos)
            yield from _paths(value, (*prefix, pos))


PATHS = sorted(_paths(BADGE), key=repr)


def _check(result):
    assert set(result) == {"verified", "errors", "warnings", "checks"}
    assert {e["code"] for e in result["errors"] + result["warnings"]} <= set(ERROR_CODES)
    assert result["verified"] is (not result["errors"])


@settings(
    max_examples=int(os.environ.get("ZAPCAT_FUZZ_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), value=JSON, list_value=JSON)
def test_a_changed_leaf_or_list_never_raises(path, value, list_value):
    badge = copy.deepcopy(BADGE)
    node = badge
    for step in path[:-1]:
        node = node[step]
    assume(node[path[-1]] != value)
    node[path[-1]] = value
    result = verify_credential(badge, now=NOW, status_resolver=lambda _url: list_value)
    _check(result)
    assert not result["verified"]  # any change breaks the signature at least


@settings(max_examples=40, deadline=None)
@given(document=JSON)
def test_arbitrary_json_never_raises(document):
    _check(verify_credential(document, now=NOW))
    good = verify_credential(BADGE, now=NOW, status_resolver=lambda _url: document)
    _check(good)
    assert good["checks"]["proof"] == "ok"


@settings(max_examples=40, deadline=None)
@given(token=st.text(max_size=40) | st.builds(lambda a, b, c: f"{a}.{b}.{c}",
                                               st.text(max_size=12), st.text(max_size=12),
                                               st.text(max_size=12)))  # fmt: skip
def test_arbitrary_tokens_never_raise(token):
    result = verify_jwt(token, keys=trusted_keys([]), now=NOW)
    _check(result)
    assert not result["verified"]


def test_the_unchanged_badge_and_list_verify():
    assert verify_credential(BADGE, now=NOW, status_resolver={REVOKE_URL: LIST}.get)["verified"]
