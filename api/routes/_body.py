"""Request parts shared by the routes: the ``Idempotency-Key`` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from api.services.idempotency import KEY_PATTERN

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Makes the create safe to retry: a retry with the same key and body "
        "gets the first reply (and creates nothing); the same key with another body is "
        "`409 idempotency_conflict`. 1-200 printable ASCII characters, a UUID for example.",
    ),
]
"""The optional ``Idempotency-Key`` header of ``POST /v1/sessions``, banks and assessments."""
