"""``/v1/assessments``: a pinned bank version plus an engine configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.deps import AdminKey, ContextDep
from api.errors import InvalidRequestError
from api.routes._body import IdempotencyHeader
from api.schemas import AssessmentCreate, AssessmentView
from api.services import assessments, battery
from api.services.idempotency import request_key

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AssessmentView)
async def create_assessment(
    body: AssessmentCreate,
    context: ContextDep,
    principal: AdminKey,
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    """Create an assessment (admin); the configuration is validated against the bank.

    With ``battery`` instead of ``bank``/``bank_version``/``config``: a battery
    assessment (every section validated against its pinned bank version). Runs on the
    service's administrative thread (a large bank takes a moment to check), so examinees'
    requests keep their threads meanwhile.
    """
    if body.battery is not None:
        if body.bank is not None or body.bank_version is not None or body.config:
            raise InvalidRequestError(
                "give either battery, or bank, bank_version and config, not both",
                details={"fields": ["battery", "bank", "bank_version", "config"]},
            )
        return await context.run_admin(
            battery.create_battery_assessment,
            context.db,
            tenant=principal.tenant,
            battery=body.battery,
            name=body.name,
        )
    if body.bank is None or body.bank_version is None:
        raise InvalidRequestError(
            "an assessment needs bank and bank_version (or a battery)",
            details={"fields": ["bank", "bank_version"]},
        )
    return await context.run_admin(
        assessments.create_assessment,
        context.db,
        tenant=principal.tenant,
        bank=body.bank,
        bank_version=body.bank_version,
        config=body.config,
        name=body.name,
        idempotency=request_key(
            idempotency_key, "POST", "/v1/assessments", body.model_dump(mode="json")
        ),
    )


@router.get("/{assessment_id}", response_model=AssessmentView)
def get_assessment(assessment_id: str, context: ContextDep, principal: AdminKey) -> Any:
    """One assessment of the caller's tenant (admin)."""
    return assessments.get_assessment(
        context.db, tenant=principal.tenant, assessment_id=assessment_id
    )
