"""Reading and writing the payloads of the 1EdTech CAT API (no database here).

- :func:`read_section_configuration`: the ``sectionConfiguration`` of ``POST sections``
  (base64 of a JSON document, format ``zapcat-ims-cat-section/1``).
- :func:`read_prior_data`: ``priorData`` of ``POST sections/{s}/sessions``.
- :func:`read_item_results`: the cumulative ``assessmentResult.itemResult`` list.
- :func:`result_outcomes`: the ``testResult.outcomeVariables`` sent back.

Every problem is reported with its location in the request (for example
``assessmentResult.itemResult[2].outcomeVariables[0].value[0].value``) and the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from api.errors import InvalidRequestError

SECTION_FORMAT = "zapcat-ims-cat-section/1"
UNSELECTED_RULES = ("refuse", "ignore")
INITIAL_ABILITY_RULES = ("start", "start_and_prior", "ignore")
_SECTION_KEYS = {
    "format", "assessment_id", "bank", "bank_version", "config", "items",
    "unselected_items", "initial_ability",
}  # fmt: skip
_SCORE_TYPES = ("FLOAT", "INTEGER")


def _invalid(location: str, message: str, value: Any = None) -> InvalidRequestError:
    problem = {"location": location, "message": message, "input": value}
    return InvalidRequestError(f"{location}: {message}", details={"problems": [problem]})


def decode_b64(text: Any, location: str) -> bytes:
    """Bytes of a base64 field (``""`` and ``null`` are empty)."""
    if text is None:
        return b""
    if not isinstance(text, str):
        raise _invalid(location, "must be a base64 string", text)
    try:
        return base64.b64decode("".join(text.split()), validate=True)  # MIME line breaks ok
    except (binascii.Error, ValueError):
        raise _invalid(location, "is not valid base64", text[:80]) from None


def read_section_configuration(text: Any) -> dict[str, Any]:
    """Parse and check a ``sectionConfiguration`` (base64 of JSON).

    Parameters
    ----------
    text : str
        Base64 of a JSON object with either ``assessment_id`` or ``bank`` +
        ``bank_version`` (+ ``config``, an engine configuration), and optionally
        ``items`` (``{qti_item_identifier: bank_item_id}``), ``unselected_items``
        (``"refuse"`` or ``"ignore"``) and ``initial_ability`` (``"start"``,
        ``"start_and_prior"`` or ``"ignore"``).

    Returns
    -------
    dict
        The configuration with every optional key filled in (canonical: equal
        configurations give equal dicts).

    Raises
    ------
    InvalidRequestError
        Naming every problem found.
    """
    where = "sectionConfiguration"
    raw = decode_b64(text, where)
    if not raw.strip():
        raise _invalid(
            where, 'is empty: send base64 of {"assessment_id": ...} or {"bank": ..., '
            '"bank_version": ..., "config": {...}} (see the README, "1EdTech CAT API")'
        )  # fmt: skip
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise _invalid(where, f"is not JSON: {error}", raw[:80].decode(errors="replace")) from None
    if not isinstance(doc, dict):
        raise _invalid(where, "must be a JSON object", doc)
    problems = [f"unknown key {key!r}" for key in sorted(set(doc) - _SECTION_KEYS)]
    if doc.get("format", SECTION_FORMAT) != SECTION_FORMAT:
        problems.append(f"format must be {SECTION_FORMAT!r}, got {doc.get('format')!r}")
    by_assessment = "assessment_id" in doc
    if by_assessment == ("bank" in doc):
        problems.append("name either 'assessment_id' or 'bank' and 'bank_version'")
    out: dict[str, Any] = {"format": SECTION_FORMAT}
    if by_assessment:
        if not isinstance(doc["assessment_id"], str) or not doc["assessment_id"]:
            problems.append(f"assessment_id must be a string, got {doc['assessment_id']!r}")
        for key in ("bank_version", "config"):
            if key in doc:
                problems.append(f"{key!r} goes with 'bank', not with 'assessment_id'")
        out["assessment_id"] = doc["assessment_id"]
    elif "bank" in doc:
        version = doc.get("bank_version")
        if not isinstance(doc["bank"], str) or not doc["bank"]:
            problems.append(f"bank must be a bank name, got {doc['bank']!r}")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            problems.append(f"bank_version must be an integer >= 1, got {version!r}")
        if not isinstance(doc.get("config", {}), dict):
            problems.append(f"config must be an object, got {doc['config']!r}")
        out |= {"bank": doc["bank"], "bank_version": version, "config": doc.get("config", {})}
    items = doc.get("items", {})
    if not isinstance(items, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in items.items()
    ):
        problems.append("items must map QTI item identifiers to bank item ids (strings)")
    elif len(set(items.values())) != len(items):
        problems.append("items maps two QTI identifiers onto one bank item")
    out["items"] = dict(sorted(items.items())) if isinstance(items, dict) else {}
    for key, allowed, default in (
        ("unselected_items", UNSELECTED_RULES, "refuse"),
        ("initial_ability", INITIAL_ABILITY_RULES, "start"),
    ):
        value = doc.get(key, default)
        if value not in allowed:
            problems.append(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        out[key] = value
    if problems:
        raise InvalidRequestError(
            f"invalid sectionConfiguration: {'; '.join(problems)}",
            details={"problems": [{"location": where, "message": p} for p in problems]},
        )
    return out


def _number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


@dataclass(frozen=True)
class Prior:
    """What ``priorData`` says: the initial ability, a seed and the examinee's reference."""

    initial_ability: float | None = None
    seed: int | None = None
    examinee_ref: str | None = None


def read_prior_data(body: Any) -> Prior:
    """Read ``{"priorData": [{"key", "value"}, ...]}`` (every key optional).

    Known keys: ``initialEstimatedAbility`` (a number, or a string of one), ``seed``
    (integer ``0 <= seed < 2**53``, Zapcat's extension for reproducible tests),
    ``examineeRef`` or ``sourcedId`` (stored as the examinee's reference). Other keys
    are ignored, as the specification allows.
    """
    if body is None:
        return Prior()
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object", body)
    entries = body.get("priorData") or []
    if not isinstance(entries, list):
        raise _invalid("priorData", "must be a list of {key, value}", entries)
    found: dict[str, Any] = {}
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise _invalid(f"priorData[{k}]", "must be an object {key: string, value}", entry)
        key, value, where = entry["key"], entry.get("value"), f"priorData[{k}].value"
        if key == "initialEstimatedAbility":
            number = _number(value)
            if number is None:
                raise _invalid(where, "initialEstimatedAbility must be a finite number", value)
            found["initial_ability"] = number
        elif key == "seed":
            number = _number(value)
            if number is None or number != int(number) or not 0 <= number < 2**53:
                raise _invalid(where, "seed must be an integer 0 .. 2**53-1", value)
            found["seed"] = int(number)
        elif key in ("examineeRef", "sourcedId") and value not in (None, ""):
            if not isinstance(value, str) or len(value) > 200:
                raise _invalid(where, f"{key} must be a string of at most 200 characters", value)
            found["examinee_ref"] = value
    return Prior(**found)


@dataclass(frozen=True)
class ItemScore:
    """One item's SCORE from an ``itemResult``."""

    identifier: str
    score: float
    location: str


def read_item_results(body: Any) -> tuple[str, list[ItemScore]]:
    """The echoed ``sessionState`` and the FINAL item scores of a results call.

    ``sessionStatus`` other than ``FINAL`` (any case) skips that item (not scored yet);
    the SCORE outcome (identifier compared without case) must hold one number, of
    ``baseType`` FLOAT or INTEGER (given on the value or on the variable), as a JSON
    number or a string, in a ``value`` list or bare. An identifier listed twice keeps its
    last score.

    Raises
    ------
    InvalidRequestError
        A missing ``sessionState``, a malformed ``itemResult`` or a score that is not a
        number (naming the location and value).
    """
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object", body)
    state = body.get("sessionState")
    if not isinstance(state, str) or not state:
        raise _invalid("sessionState", "send the sessionState of the last reply", state)
    result = body.get("assessmentResult") or {}
    if not isinstance(result, dict):
        raise _invalid("assessmentResult", "must be an object", result)
    entries = result.get("itemResult") or []
    if not isinstance(entries, list):
        raise _invalid("assessmentResult.itemResult", "must be a list", entries)
    scores: dict[str, ItemScore] = {}
    for k, entry in enumerate(entries):
        where = f"assessmentResult.itemResult[{k}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("identifier"), str):
            raise _invalid(where, "must be an object with a string 'identifier'", entry)
        status = entry.get("sessionStatus")
        if status is not None and str(status).lower() != "final":
            continue
        score = _score(entry, where)
        scores.pop(entry["identifier"], None)
        scores[entry["identifier"]] = score
    return state, list(scores.values())


def _score(entry: dict[str, Any], where: str) -> ItemScore:
    variables = entry.get("outcomeVariables") or []
    if not isinstance(variables, list):
        raise _invalid(f"{where}.outcomeVariables", "must be a list", variables)
    for j, var in enumerate(variables):
        if not isinstance(var, dict) or str(var.get("identifier", "")).upper() != "SCORE":
            continue
        at = f"{where}.outcomeVariables[{j}].value"
        values = var.get("value")
        if not isinstance(values, list):  # a bare value (1, "1") is read as [{"value": 1}]
            values = [values] if values is not None else []
        if len(values) != 1:
            raise _invalid(at, "SCORE must hold exactly one {baseType, value}", values)
        if not isinstance(values[0], dict):
            values = [{"value": values[0]}]
        # the baseType of the value, else of the variable (1EdTech's binding allows both)
        base_type = str(values[0].get("baseType") or var.get("baseType") or "FLOAT").upper()
        if base_type not in _SCORE_TYPES:
            raise _invalid(f"{at}[0].baseType", "SCORE must be FLOAT or INTEGER", base_type)
        number = _number(values[0].get("value"))
        if number is None:
            raise _invalid(f"{at}[0].value", "SCORE must be a number", values[0].get("value"))
        return ItemScore(entry["identifier"], number, f"{at}[0].value")
    raise _invalid(
        f"{where}.outcomeVariables",
        f"item {entry['identifier']!r} has no SCORE outcome; send its SCORE (0 .. K-1)",
        variables,
    )


def _variable(identifier: str, base_type: str, value: Any) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "cardinality": "single",
        "baseType": base_type,
        "value": [{"baseType": base_type, "value": str(value)}],
    }


def result_outcomes(result: dict[str, Any]) -> dict[str, Any]:
    """``testResult`` of a finished session: THETA, SE, LEVEL, N_ITEMS, STOP_REASON.

    ``result`` is the engine result as the caller may see it (without ``theta``/``se``
    when the assessment hides results from delivery keys; then only N_ITEMS and
    STOP_REASON are sent). LEVEL is the classification category (number of cut scores
    at or below THETA) when the assessment has cut scores.
    """
    out = []
    if "theta" in result:
        out.append(_variable("THETA", "FLOAT", repr(float(result["theta"]))))
        out.append(_variable("SE", "FLOAT", repr(float(result["se"]))))
    if result.get("classification"):
        out.append(_variable("LEVEL", "INTEGER", int(result["classification"]["category"])))
    if "n_items" in result:
        out.append(_variable("N_ITEMS", "INTEGER", int(result["n_items"])))
    if result.get("stop_reason"):
        out.append(_variable("STOP_REASON", "IDENTIFIER", result["stop_reason"]))
    return {"outcomeVariables": out}
