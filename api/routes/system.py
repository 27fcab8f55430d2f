"""``/health`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api import metrics
from api.deps import ContextDep
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


@router.get("/metrics", response_class=Response)
def prometheus_metrics(context: ContextDep) -> Response:
    """Prometheus text: requests and latencies by route, sessions by status."""
    body, content_type = metrics.render(context.db)
    return Response(body, media_type=content_type)
