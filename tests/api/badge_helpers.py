"""The service with a badge secret, and finished sessions to issue badges for."""

from __future__ import annotations

import copy
from typing import Any

from battery_helpers import make_battery, run_battery

from guidance.badges.status_list import BitstringStatusList

SECRET = "test-secret-" + "k" * 32
"""ZAPCAT_SECRET_KEY of the badge tests (a test value, not a real secret)."""


def strong_battery_session(client, tenant, seed: int = 3, theta: float = 1.6, **changes: Any
                           ) -> tuple[str, str]:
    """(assessment id, session id) of a finished demo battery answered at ``theta``."""
    aid = make_battery(client, tenant, **changes)
    sid, last, _ = run_battery(client, tenant.deliver, aid, seed=seed, theta=theta)
    assert last["status"] == "finished"
    return aid, sid


def issue(client, headers, session_id: str, **body: Any):
    return client.post(f"/v1/sessions/{session_id}/badges", headers=headers, json=body)


def status_bit(client, credential: dict[str, Any]) -> bool:
    """The revocation bit of a badge, read from its public status list (no key)."""
    entry = credential["credentialStatus"]
    path = entry["statusListCredential"].removeprefix("http://testserver")
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    encoded = reply.json()["credentialSubject"]["encodedList"]
    return BitstringStatusList.decode(encoded).get(int(entry["statusListIndex"]))


def tampered(credential: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    """A copy of ``credential`` with the value at ``path`` (keys and list indices) changed."""
    out = copy.deepcopy(credential)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out
