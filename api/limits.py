"""The service's limits on identifiers, texts and numbers: one set, for both databases.

Every name, id and reference the service stores obeys :data:`ID_MAX_LENGTH` and the
character rule of :func:`identifier_problem`, checked when it is published or created
(never left to the database, which would answer differently on SQLite and PostgreSQL).
Integers in requests fit PostgreSQL's ``integer`` (:data:`INT_MAX`) unless stated.
"""

from __future__ import annotations

import re
from typing import Any

ID_MAX_LENGTH = 200
"""Most characters of a bank name, item id, examinee reference or assessment name."""

DESCRIPTION_MAX_LENGTH = 10_000
"""Most characters of a bank description."""

LIST_DESCRIPTION_LENGTH = 200
"""Characters of a bank's description shown in list entries (the rest is cut, "…")."""

INT_MAX = 2**31 - 1
"""Largest integer accepted for versions, seqs and responses (PostgreSQL ``integer``)."""

IDEMPOTENCY_KEY_MAX_LENGTH = 200
"""Most characters of an ``Idempotency-Key`` header (printable ASCII)."""

_BAD = r"/\\\x00-\x1f\x7f-\x9f\ud800-\udfff"
ID_PATTERN = rf"^[^\s.{_BAD}](?:[^{_BAD}]*[^\s{_BAD}])?$"
"""The rule of identifiers as a regular expression (also in the API document)."""

ID_RULE = (
    f"1-{ID_MAX_LENGTH} characters without control characters, '/' or '\\', "
    "not starting with '.' or a space and not ending with a space"
)
"""The rule, as said in error messages and the API document."""

_ID = re.compile(ID_PATTERN)
_SERVER_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_server_id(value: str) -> bool:
    """Whether ``value`` has the form of the ids the service makes (UUIDs, lower case).

    Any other session or assessment id names nothing: it is not found without asking the
    database (which would refuse some values, such as NUL, on PostgreSQL only).
    """
    return _SERVER_ID.match(value) is not None


def identifier_problem(value: Any, what: str) -> str | None:
    """What is wrong with an identifier, or ``None`` when it obeys :data:`ID_RULE`.

    Parameters
    ----------
    value : object
        The candidate (a ``str`` to be valid).
    what : str
        Its name in the message, for example ``"bank name"``.

    Returns
    -------
    str or None
        A message naming ``what``, the offending character or length, and the rule.
    """
    if not isinstance(value, str):
        return f"{what} must be a string, got {type(value).__name__}"
    if not value:
        return f"{what} must not be empty ({ID_RULE})"
    if len(value) > ID_MAX_LENGTH:
        return f"{what} has {len(value)} characters, more than the {ID_MAX_LENGTH} allowed"
    if _ID.match(value) is None:
        for position, char in enumerate(value):
            if char in "/\\" or (not char.isprintable() and not char.isspace()):
                return (
                    f"{what} must not contain U+{ord(char):04X} {char!r} (position "
                    f"{position}); allowed: {ID_RULE}"
                )
        return f"{what} {value[:40]!r} is not allowed: {ID_RULE}"
    return None


def text_problem(value: Any, what: str, max_length: int) -> str | None:
    """What is wrong with a free text (at most ``max_length``, no NUL), or ``None``."""
    if not isinstance(value, str):
        return f"{what} must be a string, got {type(value).__name__}"
    if len(value) > max_length:
        return f"{what} has {len(value)} characters, more than the {max_length} allowed"
    for position, char in enumerate(value):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return f"{what} must not contain U+{ord(char):04X} (position {position})"
    return None


def check_identifier(value: Any, what: str) -> str:
    """Return ``value`` if it obeys :data:`ID_RULE`; raise ``ValueError`` otherwise.

    For pydantic validators (the message becomes the 422 ``invalid_request`` message).
    """
    problem = identifier_problem(value, what)
    if problem is not None:
        raise ValueError(problem)
    return value


def short(text: str, length: int = LIST_DESCRIPTION_LENGTH) -> str:
    """``text`` cut to ``length`` characters (ending in "…" when cut)."""
    return text if len(text) <= length else text[: length - 1] + "…"
