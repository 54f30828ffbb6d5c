"""POST /dispatches/{id}/cancel: cancel a scheduled dispatch before it starts (host.dispatch.scheduling)."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from litestar.params import FromPath

from host.api.routes.dispatches import DispatchView, dispatch_view
from host.dispatch.scheduling import cancel_scheduled
from host.runtime.wiring import Runtime

__all__ = ["ROUTES", "cancel_dispatch"]


@post(
    "/dispatches/{dispatch_id:str}/cancel",
    status_code=200,
    summary="Cancel a scheduled dispatch that has not started",
    opt={"scope": "send"},
)
async def cancel_dispatch(dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]) -> DispatchView:
    """The dispatch ends ``cancelled`` and is never sent; 409 once it has started, 404 for an unknown id."""
    await cancel_scheduled(runtime.store, dispatch_id)
    return await dispatch_view(runtime, dispatch_id)


ROUTES = [cancel_dispatch]
