"""Request and response bodies of the HTTP API (pydantic models).

Request fields are strict: a JSON string is not accepted where an integer is expected,
nor ``true`` for ``1``; unknown fields are rejected, so that a typo is an error rather
than a silently ignored value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Id = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssessmentCreate(_Request):
    """``POST /v1/assessments``: a bank version and configuration, or a battery.

    A battery has one section per skill, each pinning a published bank version.
    """

    bank: Id | None = Field(default=None, description="Name of a published item bank.")
    bank_version: StrictInt | None = Field(
        default=None, ge=1, description="Version of that bank (1, 2, ...)."
    )
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
    name: Annotated[StrictStr, Field(max_length=200)] = ""


class SessionCreate(_Request):
    """``POST /v1/sessions``: start a test."""

    assessment_id: Id
    examinee_ref: Id = Field(description="The platform's reference of the examinee.")
    seed: StrictInt | None = Field(
        default=None,
        ge=0,
        lt=2**53,
        description="Seed of the engine's random choices (default: a random one).",
    )


class ResponseCreate(_Request):
    """``POST /v1/sessions/{id}/responses``: the answer to the presented item."""

    item_id: Id = Field(description="The item presented (as returned with this seq).")
    seq: StrictInt = Field(ge=1, description="The seq returned with that item.")
    response: StrictInt = Field(description="The category scored, 0 .. n_categories - 1.")


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


class SessionView(BaseModel):
    """``GET /v1/sessions/{id}``."""

    session_id: str
    assessment_id: str
    examinee_ref: str
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
