"""``/v1/banks``: publish and read item bank versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, status

from api.deps import AdminKey, AnyKey, ContextDep
from api.schemas import BankSummary, BankVersionView
from api.services import banks

router = APIRouter(prefix="/v1/banks", tags=["banks"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BankSummary)
def publish_bank(
    context: ContextDep,
    principal: AdminKey,
    document: dict[str, Any] = Body(description="A zapcat-bank/1 document."),  # noqa: B008
) -> dict[str, Any]:
    """Publish a bank (admin): it becomes the next version (1, 2, ...) of its name."""
    return banks.publish_bank(context.db, tenant=principal.tenant, document=document)


@router.get("", response_model=list[BankSummary])
def list_banks(context: ContextDep, principal: AnyKey) -> list[dict[str, Any]]:
    """Every published bank version of the caller's tenant."""
    return banks.list_banks(context.db, tenant=principal.tenant)


@router.get(
    "/{name}/versions/{version}", response_model=BankVersionView, response_model_exclude_none=True
)
def get_bank_version(
    name: str, version: int, context: ContextDep, principal: AnyKey
) -> dict[str, Any]:
    """One bank version; its items and parameters (``document``) only for admin keys."""
    return banks.get_bank_version(
        context.db,
        tenant=principal.tenant,
        name=name,
        version=version,
        with_items=principal.scope == "admin",
    )
