"""Keeping a bank alive (admin): the response export and the promotion of a new version.

``GET /v1/banks/{name}/versions/{version}/responses`` streams every recorded response;
``POST /v1/banks/{name}/versions/{version}/promotions`` publishes the next version from
accepted pretest candidates, retirements and a link.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse
from pydantic import Field

from api.deps import AdminKey, ContextDep
from api.schemas import BankSummary, _Request
from api.services import banks, exports
from calibration.linking import Link
from calibration.promotion import promote
from item_banks.io import bank_to_json

router = APIRouter(prefix="/v1/banks", tags=["exports"])

MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


@router.get(
    "/{name}/versions/{version}/responses",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["parquet"]: {}}}},
)
def export_responses(
    name: str,
    version: int,
    context: ContextDep,
    principal: AdminKey,
    format: Literal["csv", "parquet"] = Query("csv", description="File format."),
    assessment_id: str | None = Query(None, description="Only this assessment's sessions."),
    examinee_refs: bool = Query(
        False, description="The platform's examinee references instead of pseudonyms."
    ),
) -> StreamingResponse:
    """Every recorded response of a bank version, long format, streamed (admin).

    Columns ``person, session_id, item, response, seq, time, scored, finished``; see
    :mod:`api.services.exports`.
    """
    batches = exports.response_batches(
        context.db,
        tenant=principal.tenant,
        bank=name,
        version=version,
        assessment_id=assessment_id,
        examinee_refs=examinee_refs,
        secret=exports.export_secret(context.settings.export_secret),
    )
    first = next(batches, None)  # errors (unknown bank, assessment) before the 200

    def chained():
        if first is not None:
            yield first
        yield from batches

    filename = f"{name}-v{version}-responses.{format}"
    return StreamingResponse(
        exports.encode(chained(), format),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class PromotionCreate(_Request):
    """``POST /v1/banks/{name}/versions/{version}/promotions``."""

    candidates: dict[str, Any] | None = Field(
        default=None,
        description="A zapcat-candidates/1 document (zapcat calibrate --pretest-only).",
    )
    accept: list[str] | None = Field(
        default=None, description="Candidates to make operational (default: the unflagged)."
    )
    retire: list[str] = Field(default_factory=list, description="Items to retire.")
    link: dict[str, Any] | None = Field(
        default=None, description="A zapcat-link/1 document applied to every item."
    )


@router.post(
    "/{name}/versions/{version}/promotions",
    status_code=status.HTTP_201_CREATED,
    response_model=BankSummary,
)
def promote_bank(
    name: str, version: int, body: PromotionCreate, context: ContextDep, principal: AdminKey
) -> dict[str, Any]:
    """Publish the next version of a bank from this one (admin), with its provenance."""
    row = banks.find_bank_version(context.db, tenant=principal.tenant, name=name, version=version)
    old = banks.load_bank(context.db, row)
    new = promote(
        old,
        body.candidates,
        accept=body.accept,
        retire=body.retire,
        link=Link.from_dict(body.link, source="link") if body.link is not None else None,
        source="request body",
    )
    document = json.loads(bank_to_json(new))
    return banks.publish_bank(context.db, tenant=principal.tenant, document=document)
