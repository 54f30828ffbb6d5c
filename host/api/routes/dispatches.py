"""Tidings' own status API: a dispatch with per-channel counts, its deliveries page by page, and cancel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from host.delivery.lifecycle import Status
from host.dispatch.views import DeliveryView, DispatchView, delivery_view, status_query
from host.runtime.wiring import Runtime

__all__ = ["ROUTES", "DeliveryPage", "cancel_dispatch", "get_dispatch", "list_deliveries"]


class DeliveryPage(msgspec.Struct, rename="camel", kw_only=True):
    """A page of deliveries; pass ``nextAfter`` as ``after`` for the next page."""

    items: list[DeliveryView]
    next_after: str | None


@get("/dispatches/{dispatch_id:str}", summary="A dispatch with per-channel delivery counts")
async def get_dispatch(dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]) -> DispatchView:
    """Per-channel counts by status; ``settled`` once every delivery is sent, failed or skipped."""
    return await runtime.dispatches.view(dispatch_id)


@get("/dispatches/{dispatch_id:str}/deliveries", summary="The deliveries of a dispatch, paginated")
async def list_deliveries(
    dispatch_id: FromPath[str],
    runtime: NamedDependency[Runtime],
    status: FromQuery[Status | Literal["deferred"] | None] = None,
    channel: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    """Deliveries in id order, filtered by status (``deferred`` as the counts show it) and channel."""
    query: dict[str, Any] = {"dispatch_id": dispatch_id}
    if status:
        query.update(status_query(status))
    if channel:
        query["channel"] = channel
    docs = await runtime.dispatches.deliveries(query, after=after, limit=limit)
    items = [delivery_view(doc) for doc in docs]
    return DeliveryPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@post(
    "/dispatches/{dispatch_id:str}/cancel",
    status_code=200,
    summary="Cancel a scheduled dispatch that has not started",
    opt={"scope": "send"},
)
async def cancel_dispatch(dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]) -> DispatchView:
    """The dispatch ends ``cancelled`` and is never sent; 409 once it has started, 404 for an unknown id."""
    await runtime.dispatches.cancel(dispatch_id)
    return await runtime.dispatches.view(dispatch_id)


#: the route handlers of this module, registered by the application plugin
ROUTES = [get_dispatch, list_deliveries, cancel_dispatch]
