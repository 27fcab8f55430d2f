"""``/v1/banks``: publish and read item bank versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from api.deps import AdminKey, AnyKey, ContextDep
from api.limits import INT_MAX
from api.openapi import BANK_BODY, NEXT_PAGE_HEADERS, integer_text
from api.routes._body import IdempotencyHeader
from api.routes._paging import PageCursor, PageLimit, next_page_headers, page_after
from api.schemas import BankSummary, BankVersionView
from api.services import banks
from api.services.bank_documents import prepare_document
from api.services.idempotency import IdempotencyKey

router = APIRouter(prefix="/v1/banks", tags=["banks"])


def _publish(context: Any, tenant: str, raw: bytes, key: str | None) -> dict[str, Any]:
    prepared = prepare_document(raw, "/v1/banks")
    idempotency = None if key is None else IdempotencyKey(key, prepared.fingerprint)
    return banks.publish(context.db, tenant=tenant, prepared=prepared, idempotency=idempotency)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BankSummary,
    openapi_extra={"requestBody": BANK_BODY},
)
async def publish_bank(
    request: Request,
    context: ContextDep,
    principal: AdminKey,
    idempotency_key: IdempotencyHeader = None,
) -> dict[str, Any]:
    """Publish a bank (admin): it becomes the next version (1, 2, ...) of its name.

    The body is a `zapcat-bank/1` document; every problem of it is listed at once
    (`422 invalid_item_bank`). Parsing, validation and storage run on the service's
    administrative thread (a large body in a child process), so examinees' requests keep
    their threads, and the interpreter, meanwhile.
    """
    raw = await request.body()
    return await context.run_admin(_publish, context, principal.tenant, raw, idempotency_key)


@router.get("", response_model=list[BankSummary], responses={200: {"headers": NEXT_PAGE_HEADERS}})
def list_banks(
    request: Request,
    response: Response,
    context: ContextDep,
    principal: AnyKey,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> list[dict[str, Any]]:
    """The published bank versions of the caller's tenant, by name then version, a page at a time.

    List entries carry the first 200 characters of each description. When more entries
    follow, the reply has `X-Next-Cursor` and a `Link: <...>; rel="next"` header.
    """
    entries, last = banks.bank_page(
        context.db, tenant=principal.tenant, limit=limit, after=page_after(cursor)
    )
    next_page_headers(request, response, limit, last)
    return entries


@router.get(
    "/{name}/versions/{version}", response_model=BankVersionView, response_model_exclude_none=True
)
def get_bank_version(
    name: str,
    version: Annotated[int, Path(ge=1, le=INT_MAX, description=integer_text())],
    context: ContextDep,
    principal: AnyKey,
) -> dict[str, Any]:
    """One bank version; its items and parameters (``document``) only for admin keys."""
    return banks.get_bank_version(
        context.db,
        tenant=principal.tenant,
        name=name,
        version=version,
        with_items=principal.scope == "admin",
    )
