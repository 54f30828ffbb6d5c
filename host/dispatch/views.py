"""Views of dispatches and deliveries: how the API, the console and the delivery events show them.

msgspec Structs in camelCase, built from the stored documents; the counts of a dispatch's deliveries per
channel and status come from one aggregation (:func:`count_deliveries`), for one dispatch or a page.

``deferred`` in the counts is not a lifecycle status: it is a ``queued`` delivery held for the user's
quiet hours, whose ``deferred_until`` is still ahead (host.dispatch.deferrals). It counts as unsettled
(:data:`PENDING`), and becomes ``queued`` again on its own when that time passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from host.delivery.lifecycle import UNSETTLED, Status
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = [
    "DEFERRED",
    "PENDING",
    "DeliveryView",
    "DispatchView",
    "ErrorView",
    "count_deliveries",
    "delivery_view",
    "dispatch_view",
    "status_query",
]

#: the counts' name for ``queued`` deliveries held for quiet hours (a view, not a lifecycle status)
DEFERRED: Final = "deferred"
#: what the counts show for deliveries not settled yet
PENDING: tuple[str, ...] = (*UNSETTLED, DEFERRED)

Doc = dict[str, Any]
Counts = dict[str, dict[str, int]]


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
    priority: str = "normal"
    #: held for the user's quiet hours until then (``deferred`` in the counts while it is ahead)
    deferred_until: datetime | None = None
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
    #: its priority lane; None until the fan-out has counted its clusters
    priority: str | None = None


def delivery_view(doc: Mapping[str, Any]) -> DeliveryView:
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
        priority=doc.get("priority") or "normal",
        deferred_until=doc.get("deferred_until"),
        provider_id=doc.get("provider_id"),
        provider=doc.get("provider"),
        last_error=ErrorView(**error) if error else None,
    )


def status_query(status: str, now: datetime | None = None) -> Doc:
    """The deliveries filter of a status as the counts show it (``deferred``, ``queued`` without them)."""
    now = now or utcnow()
    if status == DEFERRED:
        return {"status": "queued", "deferred_until": {"$gt": now}}
    if status == "queued":
        return {"status": "queued", "$nor": [{"deferred_until": {"$gt": now}}]}
    return {"status": status}


async def count_deliveries(
    store: Store, dispatch_ids: Sequence[str], now: datetime | None = None
) -> dict[str, Counts]:
    """dispatch id → channel → status → how many deliveries (one aggregation for them all).

    ``queued`` deliveries whose ``deferred_until`` is after ``now`` count as :data:`DEFERRED`.
    """
    counts: dict[str, Counts] = defaultdict(lambda: defaultdict(dict))
    ids = [str(i) for i in dispatch_ids]
    match: Doc = {"dispatch_id": ids[0]} if len(ids) == 1 else {"dispatch_id": {"$in": ids}}
    held = {"$and": [{"$eq": ["$status", "queued"]}, {"$gt": ["$deferred_until", now or utcnow()]}]}
    status = {"$cond": [held, DEFERRED, "$status"]}
    pipeline: list[Doc] = [
        {"$match": match},
        {"$group": {"_id": {"d": "$dispatch_id", "c": "$channel", "s": status}, "n": {"$sum": 1}}},
    ]
    async for row in await store.deliveries.aggregate(pipeline):
        key = row["_id"]
        counts[key["d"]][key["c"]][key["s"]] = row["n"]
    return counts


def dispatch_view(dispatch: Mapping[str, Any], counts: Mapping[str, Mapping[str, int]]) -> DispatchView:
    """A dispatch document with its delivery counts; settled once none is queued or sending."""
    by_channel: Counts = {name: {} for name in dispatch["channels"]}
    total = unsettled = 0
    for channel, statuses in counts.items():
        for status, count in statuses.items():
            by_channel.setdefault(channel, {})[status] = count
            total += count
            if status in PENDING:
                unsettled += count
    return DispatchView(
        id=dispatch["_id"],
        channels=dispatch["channels"],
        recipients=len(dispatch.get("recipients") or []),
        clusters=dispatch.get("clusters") or [],
        template_id=dispatch.get("template_id"),
        state=dispatch["state"],
        created_at=dispatch["created_at"],
        counts=by_channel,
        total=total,
        settled=dispatch["state"] in ("expanded", "cancelled") and unsettled == 0,
        send_at=dispatch.get("send_at"),
        priority=dispatch.get("priority"),
    )
