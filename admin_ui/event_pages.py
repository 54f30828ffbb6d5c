"""Console page for delivery events: each event with its status per webhook endpoint, and a replay button.

Replaying queues the event again for every endpoint that wants it (host.events.log.EventLog.replay); the
workers' poster posts it once more. For admins and editors.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from admin_ui.pages import PAGE_SIZE, is_htmx, page, partial
from host.errors import NotFound
from host.runtime.wiring import Runtime

__all__ = ["list_events", "replay_event"]

Doc = dict[str, Any]


async def _with_records(runtime: Runtime, events: list[Doc]) -> list[Doc]:
    """Each event with its per-endpoint records (``records``), in endpoint order."""
    ids = [event["_id"] for event in events]
    by_event: dict[str, list[Doc]] = {event_id: [] for event_id in ids}
    async for record in runtime.events.records.find({"event_id": {"$in": ids}}):
        by_event.setdefault(record["event_id"], []).append(record)
    for event in events:
        event["records"] = sorted(by_event.get(event["_id"], []), key=lambda r: r["endpoint"])
    return events


@get("/events", include_in_schema=False)
async def list_events(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """The newest events, filtered by type, with their status per endpoint."""
    skip = max(int(request.query_params.get("skip", "0") or 0), 0)
    criteria: Doc = {}
    event_type = str(request.query_params.get("type") or "").strip()
    if event_type:
        criteria["type"] = event_type
    events = (
        await runtime.events.events.find(criteria)
        .sort("created_at", -1)
        .skip(skip)
        .limit(PAGE_SIZE)
        .to_list()
    )
    name = "_event_rows.html" if is_htmx(request) else "events.html"
    return page(
        request, name, events=await _with_records(runtime, events), endpoints=runtime.events.endpoints,
        event_type=event_type, skip=skip, size=PAGE_SIZE,
    )  # fmt: skip


@post("/events/{event_id:str}/replay", include_in_schema=False, status_code=200)
async def replay_event(
    request: Request[Any, Any, Any], event_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Queue one event again for its endpoints; answers its row."""
    if not await runtime.events.replay(event_id):
        raise NotFound(f"no event {event_id!r} for any configured endpoint")
    event = await runtime.events.events.find_one({"_id": event_id})
    return partial(request, "_event_rows.html", events=await _with_records(runtime, [event] if event else []))
