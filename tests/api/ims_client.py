"""A scripted 1EdTech CAT client that sends exactly what TAO's lib-test-cat sends.

Payload shapes (from oat-sa/lib-test-cat, ``oat\\libCat\\ims\\v1p3``): ``POST sections``
with three base64 fields; ``POST sections/{s}/sessions`` with ``priorData``
``initialEstimatedAbility`` ``"0.0"``; ``POST .../results`` with the cumulative
``itemResult`` list (one entry per item answered so far, only SCORE outcomes,
``sessionStatus`` FINAL, ``cardinality`` 0) and the last ``sessionState`` received.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

PREFIX = "/ims/cat/v1p0"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def section_body(configuration: dict[str, Any] | str) -> dict[str, str]:
    text = configuration if isinstance(configuration, str) else json.dumps(configuration)
    return {"qtiMetadata": "", "qtiUsagedata": "", "sectionConfiguration": b64(text)}


def score_value(score: float, style: str) -> Any:
    """The SCORE as TAO may encode it: ``1`` (PHP's 1.0), ``1.0`` or ``"1"``."""
    if style == "int":
        return int(score)
    if style == "float":
        return float(score)
    return str(score)


def item_result(identifier: str, score: float, base_type: str = "FLOAT", style: str = "int"):
    return {
        "identifier": identifier,
        "datestamp": "2026-12-01T10:00:00+0000",
        "sessionStatus": "FINAL",
        "outcomeVariables": [
            {
                "identifier": "SCORE",
                "cardinality": 0,
                "value": [{"baseType": base_type, "value": score_value(score, style)}],
            }
        ],
    }


@dataclass
class CatClient:
    """One TAO-like test taker's session over HTTP (``http``: a TestClient or httpx)."""

    http: Any
    headers: dict[str, str]
    section_id: str
    session_id: str = ""
    state: str = ""
    next_items: list[str] = field(default_factory=list)
    answered: list[tuple[str, float, str, str]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)

    def start(self, prior: list[dict[str, str]] | None = None) -> dict[str, Any]:
        prior = [{"key": "initialEstimatedAbility", "value": "0.0"}] if prior is None else prior
        reply = self.http.post(
            f"{PREFIX}/sections/{self.section_id}/sessions",
            json={"priorData": prior},
            headers=self.headers,
        )
        assert reply.status_code == 201, reply.text
        body = reply.json()
        self.session_id, self.state = body["sessionIdentifier"], body["sessionState"]
        self.next_items = body["nextItems"]["itemIdentifiers"]
        self.replies.append(body)
        return body

    def payload(self) -> dict[str, Any]:
        return {
            "assessmentResult": {
                "context": {"sourcedId": None, "sessionIdentifiers": []},
                "itemResult": [item_result(i, s, t, st) for i, s, t, st in self.answered],
            },
            "sessionState": self.state,
        }

    def post_results(self, payload: dict[str, Any] | None = None):
        return self.http.post(
            f"{PREFIX}/sections/{self.section_id}/sessions/{self.session_id}/results",
            json=self.payload() if payload is None else payload,
            headers=self.headers,
        )

    def answer(self, score: float, base_type: str = "FLOAT", style: str = "int") -> dict:
        """Answer the presented item, send the cumulative results, keep the reply."""
        assert self.next_items, "no item presented"
        self.answered.append((self.next_items[0], score, base_type, style))
        reply = self.post_results()
        assert reply.status_code == 200, reply.text
        body = reply.json()
        self.state = body["sessionState"]
        self.next_items = body["nextItems"]["itemIdentifiers"]
        self.replies.append(body)
        return body


def outcomes(body: dict[str, Any]) -> dict[str, str]:
    """``{identifier: value}`` of a reply's ``testResult`` outcome variables."""
    variables = body["assessmentResult"]["testResult"]["outcomeVariables"]
    return {v["identifier"]: v["value"][0]["value"] for v in variables}
