"""``/v1/banks/{name}/versions/{version}/responses``: the response export (admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import AdminKey, ContextDep
from api.services import exports

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
