"""Cursor paging of the list endpoints: ``limit`` and an opaque ``cursor`` per page."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from api.errors import InvalidRequestError
from api.openapi import integer_text

PageLimit = Annotated[
    int, Query(ge=1, le=1000, description="Most entries per page. " + integer_text())
]
"""The ``limit`` query parameter of a list endpoint (1 .. 1000)."""
PageCursor = Annotated[
    str | None,
    Query(max_length=1000, description="Where to start: `X-Next-Cursor` of the last page."),
]
"""The ``cursor`` query parameter: ``X-Next-Cursor`` of the previous page."""


def page_token(entry: tuple[str, int]) -> str:
    """The cursor of the page after ``entry`` (its ``(name, version)``)."""
    return base64.urlsafe_b64encode(json.dumps(list(entry)).encode()).decode().rstrip("=")


def page_after(cursor: str | None) -> tuple[str, int] | None:
    """The ``(name, version)`` a cursor starts after; ``None`` for the first page."""
    if cursor is None:
        return None
    try:
        name, version = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(name, str) or type(version) is not int:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequestError(
            f"cursor {cursor[:60]!r} is not one this service gave: use the X-Next-Cursor "
            "header of the previous page, or omit it for the first page",
            details={"cursor": cursor[:200]},
        ) from None
    return name, version


def next_page_headers(
    request: Request, response: Response, limit: int, last: tuple[str, int] | None
) -> None:
    """``X-Next-Cursor`` and ``Link: <...>; rel="next"`` when more entries follow."""
    if last is None:
        return
    token = page_token(last)
    response.headers["X-Next-Cursor"] = token
    query = urlencode({"limit": limit, "cursor": token})
    response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
