"""Console pages for dispatches, their deliveries, and the failure log with its retry actions.

A retry puts a failed or skipped delivery back in the queue as it is (attempt count unchanged, no due
time) and hands it to the broker through the outbox, like any other delivery.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from admin_ui.pages import PAGE_SIZE, is_htmx, page, partial
from host.errors import NotFound
from host.runtime.wiring import Runtime
from host.storage.documents import utcnow

__all__ = [
    "delivery_row",
    "dispatch_page",
    "failure_log",
    "list_dispatches",
    "retry_delivery",
    "retry_matching",
]

FAILED = ["failed", "skipped"]
RETRY_ALL_LIMIT = 5000
Doc = dict[str, Any]


async def _counts(runtime: Runtime, dispatch_ids: list[Any]) -> dict[str, dict[str, dict[str, int]]]:
    """dispatch id → channel → status → count."""
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    pipeline: list[Doc] = [
        {"$match": {"dispatch_id": {"$in": [str(i) for i in dispatch_ids]}}},
        {"$group": {"_id": {"d": "$dispatch_id", "c": "$channel", "s": "$status"}, "n": {"$sum": 1}}},
    ]
    async for row in await runtime.store.deliveries.aggregate(pipeline):
        key = row["_id"]
        counts[key["d"]][key["c"]][key["s"]] = row["n"]
    return counts


@get("/dispatches", include_in_schema=False)
async def list_dispatches(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Dispatches, newest first, with per-channel counts by status."""
    skip = max(int(request.query_params.get("skip", "0") or 0), 0)
    dispatches = (
        await runtime.store.dispatches.find({}).sort("created_at", -1).skip(skip).limit(PAGE_SIZE).to_list()
    )
    counts = await _counts(runtime, [d["_id"] for d in dispatches])
    return page(request, "dispatches.html", dispatches=dispatches, counts=counts, skip=skip, size=PAGE_SIZE)


def _delivery_filter(params: Any, *, failed_only: bool) -> Doc:
    """The deliveries query of a filter form (query string or posted form: both are multi-dicts)."""

    def value(key: str) -> str:
        return str(params.get(key) or "").strip()

    criteria: Doc = {}
    status = value("status")
    if failed_only:
        criteria["status"] = status if status in FAILED else {"$in": FAILED}
    elif status:
        criteria["status"] = status
    if value("channel"):
        criteria["channel"] = value("channel")
    if value("dispatch"):
        criteria["dispatch_id"] = value("dispatch")
    if value("error"):
        criteria["last_error.message"] = {"$regex": re.escape(value("error")), "$options": "i"}
    window: Doc = {}
    for key, operator in (("since", "$gte"), ("until", "$lte")):
        if value(key):
            try:
                window[operator] = datetime.fromisoformat(value(key)).replace(tzinfo=UTC)
            except ValueError:
                continue
    if window:
        criteria["updated_at"] = window
    return criteria


@get("/dispatches/{dispatch_id:str}", include_in_schema=False)
async def dispatch_page(
    request: Request[Any, Any, Any], dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One dispatch and its deliveries, filtered by channel and status."""
    dispatch = await runtime.store.dispatches.find_one({"_id": dispatch_id})
    if dispatch is None:
        raise NotFound(f"no dispatch {dispatch_id!r}")
    criteria = _delivery_filter(request.query_params, failed_only=False)
    criteria["dispatch_id"] = dispatch_id
    skip = max(int(request.query_params.get("skip", "0") or 0), 0)
    deliveries = (
        await runtime.store.deliveries.find(criteria).sort("_id", 1).skip(skip).limit(PAGE_SIZE).to_list()
    )
    counts = (await _counts(runtime, [dispatch_id])).get(dispatch_id, {})
    name = "_delivery_rows.html" if is_htmx(request) else "dispatch.html"
    return page(
        request, name, dispatch=dispatch, deliveries=deliveries, counts=counts,
        params=request.query_params, skip=skip, size=PAGE_SIZE, channels=list(runtime.registry),
    )  # fmt: skip


@get("/failures", include_in_schema=False)
async def failure_log(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Failed and skipped deliveries, most recent first, filtered."""
    criteria = _delivery_filter(request.query_params, failed_only=True)
    deliveries = (
        await runtime.store.deliveries.find(criteria).sort("updated_at", -1).limit(PAGE_SIZE * 2).to_list()
    )
    total = await runtime.store.deliveries.count_documents(criteria)
    name = "_delivery_rows.html" if is_htmx(request) else "failures.html"
    return page(
        request, name, deliveries=deliveries, total=total, params=request.query_params,
        channels=list(runtime.registry), query=request.url.query,
    )  # fmt: skip


async def _requeue(runtime: Runtime, deliveries: list[Doc]) -> list[str]:
    """Put these deliveries back in the queue; returns the ids that were still failed or skipped."""
    ids = [d["_id"] for d in deliveries if d["status"] in FAILED]
    if not ids:
        return []
    now = utcnow()
    await runtime.store.deliveries.update_many(
        {"_id": {"$in": ids}, "status": {"$in": FAILED}},
        {"$set": {"status": "queued", "due_at": None, "updated_at": now, "enqueued_at": now}},
    )
    by_channel: dict[str, list[str]] = defaultdict(list)
    for delivery in deliveries:
        if delivery["_id"] in ids:
            by_channel[delivery["channel"]].append(delivery["_id"])
    await runtime.outbox.push(by_channel)
    return ids


async def _rows(request: Request[Any, Any, Any], runtime: Runtime, ids: list[str]) -> Response[Any]:
    deliveries = await runtime.store.deliveries.find({"_id": {"$in": ids}}).to_list()
    deliveries.sort(key=lambda d: ids.index(d["_id"]))
    return partial(request, "_delivery_rows.html", deliveries=deliveries)


@post("/deliveries/{delivery_id:str}/retry", include_in_schema=False, status_code=200)
async def retry_delivery(
    request: Request[Any, Any, Any], delivery_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Retry one delivery; answers its row, which then follows it until it settles."""
    delivery = await runtime.store.deliveries.find_one({"_id": delivery_id})
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id!r}")
    await _requeue(runtime, [delivery])
    return await _rows(request, runtime, [delivery_id])


@post("/failures/retry", include_in_schema=False, status_code=200)
async def retry_matching(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Retry every failed or skipped delivery matching the filter form (up to RETRY_ALL_LIMIT)."""
    form = await request.form()
    criteria = _delivery_filter(form, failed_only=True)
    deliveries = await runtime.store.deliveries.find(criteria).limit(RETRY_ALL_LIMIT).to_list()
    ids = await _requeue(runtime, deliveries)
    return await _rows(request, runtime, ids[: PAGE_SIZE * 2])


@get("/deliveries/{delivery_id:str}/row", include_in_schema=False)
async def delivery_row(
    request: Request[Any, Any, Any], delivery_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One delivery's table row (polled by htmx while the delivery is queued or sending)."""
    return await _rows(request, runtime, [delivery_id])
