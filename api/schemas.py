"""Request and response bodies of the HTTP API (pydantic models).

Request fields are strict: a JSON string is not accepted where an integer is expected,
nor ``true`` for ``1``, nor a number written with a fraction or exponent (``1.0``,
``1e3``) even when it is whole; unknown fields are rejected, so that a typo is an error
rather than a silently ignored value. Every integer is range-checked here (the same on
both databases), every identifier follows :data:`api.limits.ID_RULE`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from api.limits import ID_MAX_LENGTH, ID_PATTERN, ID_RULE, INT_MAX, check_identifier, text_problem

STRICT_INTEGER = (
    'A JSON integer literal: `1.0`, `1e0`, `"1"` and `true` are refused (strict integers).'
)


def _identifier(what: str) -> Any:
    return AfterValidator(lambda value: check_identifier(value, what))


def _no_nul(value: str) -> str:
    problem = text_problem(value, "name", ID_MAX_LENGTH)
    if problem is not None:
        raise ValueError(problem)
    return value


def Identifier(what: str, description: str = "") -> Any:
    """A string field obeying :data:`api.limits.ID_RULE` (the message names ``what``)."""
    return Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=ID_MAX_LENGTH,
            description=(description + " " if description else "") + ID_RULE + ".",
            json_schema_extra={"pattern": ID_PATTERN},
        ),
        _identifier(what),
    ]


def Integer(low: int, high: int, description: str) -> Any:
    """A strict integer field in ``low .. high``."""
    return Annotated[
        StrictInt, Field(ge=low, le=high, description=f"{description} {STRICT_INTEGER}")
    ]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssessmentCreate(_Request):
    """``POST /v1/assessments``: a bank version and configuration, or a battery.

    A battery has one section per skill, each pinning a published bank version.
    """

    # omitted for a battery (a default is not validated; an explicit null is refused)
    bank: Identifier("bank", "Name of a published item bank.") = None  # type: ignore[valid-type]
    bank_version: Integer(1, INT_MAX, "Version of that bank (1, 2, ...).") = None  # type: ignore[valid-type]
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Engine configuration (engine.config.CATConfig.from_dict): the nested "
        "form (ability, start, selection, exposure_control, constraints, stopping) or the "
        "flat keys (selector, stop_se, max_items ...); omitted keys take the engine's defaults.",
    )
    battery: dict[str, Any] | None = Field(
        default=None,
        description="A zapcat-battery/1 document whose sections name published bank "
        "versions ({name, version}); instead of bank, bank_version and config.",
    )
    name: Annotated[StrictStr, Field(max_length=ID_MAX_LENGTH), AfterValidator(_no_nul)] = ""


class SessionCreate(_Request):
    """``POST /v1/sessions``: start a test."""

    assessment_id: Annotated[StrictStr, Field(min_length=1, max_length=ID_MAX_LENGTH)]
    examinee_ref: Identifier(  # type: ignore[valid-type]
        "examinee_ref", "The platform's reference of the examinee."
    )
    seed: StrictInt | None = Field(
        default=None,
        ge=0,
        le=2**53 - 1,
        description="Seed of the engine's random choices (default: a random one). "
        + STRICT_INTEGER,
    )
    practice: StrictBool | None = Field(
        default=None,
        description="Whether a practice session is expected: a session is one exactly when "
        "its assessment is a practice test (`mode: \"practice\"`: practice items only, never "
        "exported for calibration, no credential); a contradicting value is refused.",
    )


class ResponseCreate(_Request):
    """``POST /v1/sessions/{id}/responses``: the answer to the presented item."""

    item_id: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=ID_MAX_LENGTH,
            description="The item presented (as returned with this seq).",
        ),
    ]
    seq: Integer(1, INT_MAX, "The seq returned with that item.")  # type: ignore[valid-type]
    response: Integer(  # type: ignore[valid-type]
        -INT_MAX - 1, INT_MAX, "The category scored, 0 .. n_categories - 1."
    )


class PresentedItem(BaseModel):
    """What a delivery client learns of an item: its id and number of categories.

    In a battery, also ``section``: ``{skill_id, index, of}``, the skill the item measures
    and its place among the battery's sections (index from 1); never parameters.
    """

    model_config = ConfigDict(extra="allow")  # "section" only where there is one

    item_id: str
    n_categories: int


class Delivery(BaseModel):
    """Reply to starting a session or submitting a response."""

    session_id: str
    status: Literal["in_progress", "finished"]
    seq: int = Field(description="Send this seq with the response to `item`.")
    item: PresentedItem | None = None
    result: dict[str, Any] | None = None
    feedback: dict[str, Any] | None = Field(
        default=None,
        description="Only on an answer, when the assessment gives feedback: `progress` (the "
        "skill, its items answered, the score with its 95% interval and level band) and, "
        "in practice tests with `feedback: \"item\"`, `item` (correct, category, "
        "explanation).",
    )


class SessionView(BaseModel):
    """``GET /v1/sessions/{id}``."""

    session_id: str
    assessment_id: str
    examinee_ref: str
    practice: bool = Field(
        default=False,
        description="A practice session (its assessment is a practice test): never "
        "exported for calibration, never a credential.",
    )
    status: Literal["in_progress", "finished"]
    seq: int
    n_answered: int
    item: PresentedItem | None = None
    responses: list[dict[str, Any]]
    result: dict[str, Any] | None = None
    created_at: str
    finished_at: str | None = None


class BankSummary(BaseModel):
    """One published bank version (without its items)."""

    name: str
    version: int
    n_items: int
    description: str
    published_at: str


class BankVersionView(BankSummary):
    """A bank version; ``document`` (the zapcat-bank/1 JSON) only for admin keys."""

    document: dict[str, Any] | None = None


class AssessmentView(BaseModel):
    """An assessment."""

    assessment_id: str
    name: str
    kind: Literal["test", "battery"] = "test"
    bank: str
    bank_version: int
    config: dict[str, Any]
    n_sessions: int
    created_at: str


class Health(BaseModel):
    """``GET /health``."""

    status: Literal["ok"]
    database: str
    schema_revision: str | None
