"""GET /metrics (Prometheus exposition) and the hook that counts every answered request."""

from __future__ import annotations

import weakref
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import Message, Scope

from host.delivery.metrics import CONTENT_TYPE, DeliveryTotals, count_request, render_metrics
from host.runtime.wiring import Runtime
from host.storage.store import Store

__all__ = ["count_answered", "metrics"]

#: one snapshot per database handle (tests run several applications in one process)
_TOTALS: weakref.WeakKeyDictionary[Store, DeliveryTotals] = weakref.WeakKeyDictionary()


@get("/metrics", include_in_schema=False, summary="Prometheus metrics")
async def metrics(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """This process's counters and histograms, and delivery totals from the database."""
    totals = _TOTALS.setdefault(runtime.store, DeliveryTotals())
    await totals.refresh(runtime.store)
    return Response(render_metrics(totals), media_type=CONTENT_TYPE)


async def count_answered(message: Message, scope: Scope) -> None:
    """A before-send hook: count the response by route template (``unmatched`` when none) and status."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    route: Any = scope.get("path_template") or "unmatched"
    count_request(scope["method"], str(route), int(message["status"]))
