"""Domain errors of Zapcat, one module for the whole project.

Every error carries a stable machine-readable ``code`` so that the HTTP layer (``api/``)
can turn it into a structured response without inspecting messages. Lower layers
(``item_banks``, ``calibration``, ``engine``) raise these; only ``api`` maps them to HTTP.
Errors of the service itself (keys, requests, resources, response order) are defined in
:mod:`api.errors`, the layer that raises them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_LISTED = 20
"""Problems listed in an error message; the rest are counted ("... and N more") and all of
them are in ``details["problems"]`` (the command line lists them with ``--all``)."""


class ZapcatError(Exception):
    """Base class of every domain error raised by Zapcat.

    Parameters
    ----------
    message : str
        Human-readable explanation naming the offending value and where it was found.
    details : dict, optional
        Machine-readable context (item ids, rows, columns, values).
    """

    code: str = "zapcat_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


@dataclass(frozen=True)
class Problem:
    """One problem found while validating an item bank or its file.

    Attributes
    ----------
    item_id : str or None
        Id of the item concerned, ``None`` for bank-level problems.
    field : str
        Field (parameter, column or attribute) concerned.
    message : str
        What is wrong, including the offending value.
    location : str or None
        Where in the file (for example ``"row 7"`` or ``"items[3]"``), when known.
    """

    item_id: str | None
    field: str
    message: str
    location: str | None = None

    def __str__(self) -> str:
        where = []
        if self.location:
            where.append(self.location)
        if self.item_id is not None:
            where.append(f"item {self.item_id!r}")
        where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-serialisable dict."""
        return {
            "item_id": self.item_id,
            "field": self.field,
            "message": self.message,
            "location": self.location,
        }


class BankValidationError(ZapcatError):
    """An item bank (or its file) failed validation; every problem is listed at once.

    Parameters
    ----------
    problems : sequence of Problem
        All problems found, in file order.
    source : str, optional
        Name of the file or object that was read.
    """

    code = "invalid_item_bank"

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        head = f"{source}: " if source else ""
        count = len(self.problems)
        lines = [f"{head}{count} problem{'s' if count != 1 else ''} in item bank:"]
        lines += [f"  - {p}" for p in self.problems[:MAX_LISTED]]
        if count > MAX_LISTED:
            lines.append(f"  ... and {count - MAX_LISTED} more")
        super().__init__(
            "\n".join(lines), details={"problems": [p.to_dict() for p in self.problems]}
        )


class UnknownModelError(ZapcatError, KeyError):
    """An item model name is not registered."""

    code = "unknown_model"

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        super().__init__(
            f"unknown item model {name!r}; registered models: {', '.join(known)}",
            details={"model": name, "known": known},
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class UnknownItemError(ZapcatError, KeyError):
    """An item id is not in the bank."""

    code = "unknown_item"

    def __init__(self, item_id: str, bank: str | None = None) -> None:
        where = f" in bank {bank!r}" if bank else ""
        super().__init__(f"unknown item id {item_id!r}{where}", details={"item_id": item_id})

    def __str__(self) -> str:
        return self.message


class PlotInputError(ZapcatError):
    """A plot or report was asked for with unusable input (empty item list, bad theta grid)."""

    code = "invalid_plot_input"


class ReportInputError(ZapcatError):
    """A file given to ``zapcat report`` is not a bank, simulation or calibration report."""

    code = "invalid_report_input"


class ResponseDataError(ZapcatError):
    """Response data (a file or a DataFrame) failed validation; every problem is listed.

    Parameters
    ----------
    problems : sequence of str
        One line per problem, each naming the row, column / item id and offending value.
    source : str, optional
        Name of the file or object that was read.
    """

    code = "invalid_responses"

    def __init__(self, problems: Sequence[str], *, source: str | None = None) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        head = f"{source}: " if source else ""
        count = len(self.problems)
        shown = [f"  - {p}" for p in self.problems[:MAX_LISTED]]
        if count > MAX_LISTED:
            shown.append(f"  ... and {count - MAX_LISTED} more")
        lines = [f"{head}{count} problem{'s' if count != 1 else ''} in response data:", *shown]
        super().__init__("\n".join(lines), details={"problems": list(self.problems)})


class CalibrationError(ZapcatError):
    """A calibration cannot be run as asked (bad options, nothing left to estimate)."""

    code = "calibration_failed"


class ConvergenceWarning(UserWarning):
    """An iterative estimation stopped before meeting its convergence criterion."""


# ------------------------------------------------------------------ engine (CAT) errors
class InvalidConfigError(ZapcatError):
    """A CAT configuration is invalid; ``problems`` lists every problem at once."""

    code = "invalid_config"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        lines = [f"{len(self.problems)} problem(s) in CAT configuration:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines), details={"problems": list(self.problems)})


class InvalidStateError(ZapcatError):
    """A stored CAT state cannot be read (missing field, wrong type, unknown item)."""

    code = "invalid_state"


class InvalidResponseError(ZapcatError):
    """A response is not an integer category ``0 .. K-1`` of its item."""

    code = "invalid_response"


class ItemMismatchError(ZapcatError):
    """A response was submitted for an item other than the pending one."""

    code = "item_mismatch"


class TestFinishedError(ZapcatError):
    """A response was submitted to a test that has already finished."""

    code = "test_finished"
    __test__ = False  # not a pytest test class


class BankExhaustedError(ZapcatError):
    """No admissible item is left to administer."""

    code = "bank_exhausted"
