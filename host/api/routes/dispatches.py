"""Tidings' own status API: a dispatch with per-channel counts, and its deliveries, paginated."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from host.errors import NotFound
from host.runtime.wiring import Runtime

__all__ = ["DeliveryView", "DispatchView", "get_dispatch", "list_deliveries"]

Status = Literal["queued", "sending", "sent", "failed", "skipped", "delivered", "undelivered"]


class ErrorView(msgspec.Struct, rename="camel", kw_only=True):
    """The last error of a delivery."""

    channel: str
    code: str | None = None
    message: str


class DeliveryView(msgspec.Struct, rename="camel", kw_only=True):
    """One user × channel of a dispatch."""

    id: str
    dispatch_id: str
    channel: str
    user_id: str
    status: Status
    attempts: int
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    due_at: datetime | None = None
    provider_id: str | None = None
    provider: str | None = None
    last_error: ErrorView | None = None


class DispatchView(msgspec.Struct, rename="camel", kw_only=True):
    """A dispatch with its deliveries counted per channel and status."""

    id: str
    channels: list[str]
    recipients: int
    clusters: list[str]
    template_id: str | None
    state: str
    created_at: datetime
    counts: dict[str, dict[str, int]]
    total: int
    settled: bool
    #: when a scheduled dispatch starts (or was to start, when cancelled)
    send_at: datetime | None = None


class DeliveryPage(msgspec.Struct, rename="camel", kw_only=True):
    """A page of deliveries; pass ``nextAfter`` as ``after`` for the next page."""

    items: list[DeliveryView]
    next_after: str | None


def delivery_view(doc: dict[str, Any]) -> DeliveryView:
    """A delivery document as the API shows it."""
    error = doc.get("last_error")
    return DeliveryView(
        id=doc["_id"],
        dispatch_id=doc["dispatch_id"],
        channel=doc["channel"],
        user_id=doc["user_id"],
        status=doc["status"],
        attempts=doc["attempts"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        sent_at=doc.get("sent_at"),
        due_at=doc.get("due_at"),
        provider_id=doc.get("provider_id"),
        provider=doc.get("provider"),
        last_error=ErrorView(**error) if error else None,
    )


async def dispatch_view(runtime: NamedDependency[Runtime], dispatch_id: str) -> DispatchView:
    """Read a dispatch and count its deliveries per channel and status."""
    dispatch = await runtime.store.dispatches.find_one({"_id": dispatch_id})
    if dispatch is None:
        raise NotFound(f"id: no dispatch with id {dispatch_id!r}")
    counts: dict[str, dict[str, int]] = {name: {} for name in dispatch["channels"]}
    pipeline: list[dict[str, Any]] = [
        {"$match": {"dispatch_id": dispatch_id}},
        {"$group": {"_id": {"channel": "$channel", "status": "$status"}, "n": {"$sum": 1}}},
    ]
    total = unsettled = 0
    async for row in await runtime.store.deliveries.aggregate(pipeline):
        counts.setdefault(row["_id"]["channel"], {})[row["_id"]["status"]] = row["n"]
        total += row["n"]
        if row["_id"]["status"] in ("queued", "sending"):
            unsettled += row["n"]
    return DispatchView(
        id=dispatch["_id"],
        channels=dispatch["channels"],
        recipients=len(dispatch["recipients"]),
        clusters=dispatch["clusters"],
        template_id=dispatch.get("template_id"),
        state=dispatch["state"],
        created_at=dispatch["created_at"],
        counts=counts,
        total=total,
        settled=dispatch["state"] in ("expanded", "cancelled") and unsettled == 0,
        send_at=dispatch.get("send_at"),
    )


@get("/dispatches/{dispatch_id:str}", summary="A dispatch with per-channel delivery counts")
async def get_dispatch(dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]) -> DispatchView:
    """Per-channel counts by status; ``settled`` once every delivery is sent, failed or skipped."""
    return await dispatch_view(runtime, dispatch_id)


@get("/dispatches/{dispatch_id:str}/deliveries", summary="The deliveries of a dispatch, paginated")
async def list_deliveries(
    dispatch_id: FromPath[str],
    runtime: NamedDependency[Runtime],
    status: FromQuery[Status | None] = None,
    channel: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    """Deliveries in id order, filtered by status and channel."""
    query: dict[str, Any] = {"dispatch_id": dispatch_id}
    if status:
        query["status"] = status
    if channel:
        query["channel"] = channel
    if after:
        query["_id"] = {"$gt": after}
    docs = await runtime.store.deliveries.find(query).sort("_id", 1).limit(limit).to_list(None)
    items = [delivery_view(doc) for doc in docs]
    return DeliveryPage(items=items, next_after=items[-1].id if len(items) == limit else None)
