"""GET /metrics (Prometheus exposition) and the hook that counts every answered request."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import Message, Scope

from host.delivery.metrics import CONTENT_TYPE, count_request, render_metrics
from host.runtime.wiring import Runtime

__all__ = ["count_answered", "metrics"]


@get("/metrics", include_in_schema=False, summary="Prometheus metrics")
async def metrics(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """This process's counters and histograms, and delivery totals from the database."""
    await runtime.delivery_totals.refresh()
    return Response(render_metrics(runtime.delivery_totals), media_type=CONTENT_TYPE)


async def count_answered(message: Message, scope: Scope) -> None:
    """A before-send hook: count the response by route template (``unmatched`` when none) and status."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    route: Any = scope.get("path_template") or "unmatched"
    count_request(scope["method"], str(route), int(message["status"]))
