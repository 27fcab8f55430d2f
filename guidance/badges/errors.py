"""Errors of the badge layer (turned into HTTP codes only in ``api/``)."""

from __future__ import annotations


class BadgeError(ValueError):
    """A badge could not be built, signed or read.

    Parameters
    ----------
    code : str
        Stable machine-readable code (``invalid_badge``, ``invalid_key``, ...).
    message : str
        What was wrong, with the value and where, and how to fix it.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
