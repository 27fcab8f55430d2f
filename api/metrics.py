"""Prometheus metrics: requests, latencies and sessions.

Per-process counters and a latency histogram are kept by ``prometheus_client``; with
several uvicorn workers, ``zapcat serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` so that
``/metrics`` aggregates every worker. Session counts by status are read from the
database at scrape time, so they are the same whichever worker answers. ``/metrics``
needs an admin key, and its session counts are those of that key's tenant: no tenant
learns anything of another.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from api.db import Database
from api.models import TestSession

REQUESTS = Counter(
    "zapcat_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "zapcat_http_request_duration_seconds",
    "Time to answer an HTTP request (seconds).",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)


class MetricsMiddleware:
    """Pure ASGI middleware counting requests and timing them by route template."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            REQUESTS.labels(method, path, str(status[0])).inc()
            LATENCY.labels(method, path).observe(time.perf_counter() - start)


def _session_gauge(db: Database, tenant: str) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "zapcat_sessions", "Test sessions of the caller's tenant by status.", labels=["status"]
    )
    with db.read() as session:
        rows = session.execute(
            select(TestSession.status, func.count())
            .where(TestSession.tenant == tenant)
            .group_by(TestSession.status)
        ).all()
    counts = {"in_progress": 0, "finished": 0} | {status: n for status, n in rows}
    for status, n in sorted(counts.items()):
        gauge.add_metric([status], n)
    return gauge


def render(db: Database, *, tenant: str) -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type.

    Parameters
    ----------
    db : Database
    tenant : str
        Whose session counts are shown.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    sessions = CollectorRegistry()
    sessions.register(_Once(_session_gauge(db, tenant)))
    return generate_latest(registry) + generate_latest(sessions), CONTENT_TYPE_LATEST


class _Once:
    def __init__(self, family: GaugeMetricFamily) -> None:
        self.family = family

    def collect(self) -> list[GaugeMetricFamily]:
        return [self.family]
