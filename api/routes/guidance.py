"""Credential catalogues, and the learner's report and recommendations.

``/v1/catalogues`` publishes and reads catalogue versions (admin); the report and the
recommendations are given for a finished battery session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from api.deps import AdminKey, ContextDep, DeliverKey
from api.limits import INT_MAX
from api.openapi import NEXT_PAGE_HEADERS, integer_text
from api.routes._paging import PageCursor, PageLimit, next_page_headers, page_after
from api.services import guidance
from guidance.report import render_html

router = APIRouter(tags=["guidance"])


class RecommendationsRequest(BaseModel):
    """``POST /v1/sessions/{id}/recommendations``: which catalogue version and role."""

    model_config = ConfigDict(extra="forbid")
    catalogue: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    version: Annotated[StrictInt, Field(ge=1, le=INT_MAX)]
    role: Annotated[StrictStr, Field(min_length=1, max_length=200)]


CATALOGUE_BODY: dict[str, Any] = {
    "required": True,
    "description": "A zapcat-catalogue/1 document: JSON, or its CSV table with "
    "`Content-Type: text/csv` (a `kind` column: catalogue, credential, develops, "
    "prerequisite, role, requires; see the README).",
    "content": {"application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}}},
}


@router.post("/v1/catalogues", status_code=status.HTTP_201_CREATED,
             openapi_extra={"requestBody": CATALOGUE_BODY})
async def publish_catalogue(
    request: Request,
    context: ContextDep,
    principal: AdminKey,
) -> dict[str, Any]:
    """Publish a credential catalogue (admin): the next version (1, 2, ...) of its name.

    The body is a `zapcat-catalogue/1` document as JSON, or as its CSV table
    (`Content-Type: text/csv`); every problem is listed at once (`422 invalid_catalogue`,
    CSV problems by row, column and value).
    """
    raw = await request.body()
    csv = request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/csv"
    return await context.run_admin(guidance.publish_catalogue_body, context.db,
                                   principal.tenant, raw, csv)  # fmt: skip


@router.get("/v1/catalogues", responses={200: {"headers": NEXT_PAGE_HEADERS}})
def list_catalogues(
    request: Request,
    response: Response,
    context: ContextDep,
    principal: AdminKey,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> list[dict[str, Any]]:
    """The published catalogue versions of the caller's tenant (admin), a page at a time.

    By name then version; ``X-Next-Cursor`` and ``Link`` when more entries follow.
    """
    after = page_after(cursor)
    entries = [
        e for e in guidance.list_catalogues(context.db, tenant=principal.tenant)
        if after is None or (e["name"], e["version"]) > after
    ]
    page = entries[:limit]
    last = (page[-1]["name"], page[-1]["version"]) if len(entries) > limit else None
    next_page_headers(request, response, limit, last)
    return page


@router.get("/v1/catalogues/{name}/versions/{version}")
def get_catalogue_version(
    name: str,
    version: Annotated[int, Path(ge=1, le=INT_MAX, description=integer_text())],
    context: ContextDep,
    principal: AdminKey,
) -> dict[str, Any]:
    """One catalogue version with its document (admin)."""
    return guidance.get_catalogue_version(context.db, tenant=principal.tenant, name=name,
                                          version=version)


@router.post("/v1/sessions/{session_id}/recommendations")
def recommendations(session_id: str, body: RecommendationsRequest, context: ContextDep,
                    principal: DeliverKey) -> dict[str, Any]:
    """Gap analysis against a role and the credentials that close the gaps, ranked."""
    return guidance.session_recommendations(
        context.db, tenant=principal.tenant, session_id=session_id, scope=principal.scope,
        catalogue=body.catalogue, version=body.version, role=body.role)


@router.get("/v1/sessions/{session_id}/report", response_model=None)
def report(
    session_id: str, request: Request, context: ContextDep, principal: DeliverKey,
    catalogue: Annotated[str | None, Query(max_length=200)] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    role: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The learner's skill-gap report: JSON, or one HTML page with ``Accept: text/html``.

    With ``catalogue``, ``version`` and ``role`` the report's next steps name credentials.
    """
    out = guidance.session_report(context.db, tenant=principal.tenant, session_id=session_id,
                                  scope=principal.scope, catalogue=catalogue, version=version,
                                  role=role)
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "application/json" not in accept.split(",")[0]:
        return HTMLResponse(render_html(out))
    return JSONResponse(out)
