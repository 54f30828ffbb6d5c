"""Console action on a scheduled dispatch: cancel it before it starts (host.dispatch.scheduling)."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from admin_ui.pages import SECURITY_HEADERS
from admin_ui.sessions import session_of
from host.dispatch.scheduling import cancel_scheduled
from host.errors import RequestError
from host.runtime.wiring import Runtime

__all__ = ["cancel_dispatch"]


@post("/dispatches/{dispatch_id:str}/cancel", include_in_schema=False, status_code=200)
async def cancel_dispatch(
    request: Request[Any, Any, Any], dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Cancel, then send htmx back to the dispatch page, which shows the new state (or why not)."""
    page = f"/console/dispatches/{dispatch_id}"
    try:
        await cancel_scheduled(runtime.store, dispatch_id, by=str(session_of(request).get("staff", "")))
    except RequestError as exc:
        if exc.status_code != 409:
            raise
        page += "?cancel=started"  # it started meanwhile: the page says so
    return Response("", media_type=MediaType.TEXT, headers={**SECURITY_HEADERS, "HX-Redirect": page})
