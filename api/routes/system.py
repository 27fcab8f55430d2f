"""``/health`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api import metrics
from api.deps import AdminKey, ContextDep
from api.schemas import Health

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(context: ContextDep) -> dict[str, Any]:
    """Whether the database answers (503 ``database_unavailable`` when it does not)."""
    context.db.ping()
    return {
        "status": "ok",
        "database": context.db.dialect,
        "schema_revision": context.db.revision(),
    }


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def prometheus_metrics(context: ContextDep, principal: AdminKey) -> Response:
    """Prometheus text (admin key): requests and latencies by route, the tenant's sessions.

    Request counters and latencies are the service's (they name routes, never tenants,
    ids or values); the session counts are those of the key's tenant only.
    """
    body, content_type = metrics.render(context.db, tenant=principal.tenant)
    return Response(body, media_type=content_type)
