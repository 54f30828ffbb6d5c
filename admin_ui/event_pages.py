"""Console page for delivery events: each event with its status per webhook endpoint, and a replay button.

Replaying queues the event again for every endpoint that wants it (host.events.log.EventLog.replay); the
workers' poster posts it once more. For admins and editors.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.pages import PAGE_SIZE, page, partial, skip_of
from host.errors import NotFound
from host.runtime.wiring import Runtime
from host.settings import EVENT_TYPES

__all__ = ["list_events", "replay_event"]

Doc = dict[str, Any]


@get("/events", include_in_schema=False)
async def list_events(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """The newest events, filtered by type, with their status per endpoint."""
    skip = skip_of(request)
    event_type = str(request.query_params.get("type") or "").strip()
    events = await runtime.events.recent(event_type or None, skip=skip, limit=PAGE_SIZE)
    name = "_event_rows.html" if request.htmx else "events.html"
    return page(
        request, name, events=events, endpoints=runtime.events.endpoints,
        event_type=event_type, event_types=EVENT_TYPES, skip=skip, size=PAGE_SIZE,
    )  # fmt: skip


@post("/events/{event_id:str}/replay", include_in_schema=False, status_code=200)
async def replay_event(
    request: Request[Any, Any, Any], event_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Queue one event again for its endpoints; answers its row."""
    if not await runtime.events.replay(event_id):
        raise NotFound(f"no event {event_id!r} for any configured endpoint")
    event = await runtime.events.get(event_id)
    return partial(request, "_event_rows.html", events=[event] if event else [])
