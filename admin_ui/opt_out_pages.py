"""Console: a user's opt-outs on the user page, added and removed by staff (htmx, CSRF like every form)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from admin_ui.pages import partial
from host.runtime.wiring import Runtime

__all__ = ["add_opt_out", "opt_out_context", "remove_user_opt_out"]


async def opt_out_context(runtime: Runtime, user_id: str) -> dict[str, Any]:
    """What ``_opt_outs.html`` shows: the user's opt-outs and the channels one can be added for."""
    opt_outs = await runtime.opt_outs.of_user(user_id)
    taken = {doc["channel"] for doc in opt_outs}
    return {
        "user_id": user_id,
        "opt_outs": opt_outs,
        "free_channels": [name for name in runtime.registry if name not in taken],
    }


async def _panel(
    request: Request[Any, Any, Any], runtime: Runtime, user_id: str, error: str = ""
) -> Response[Any]:
    return partial(request, "_opt_outs.html", **await opt_out_context(runtime, user_id), opt_out_error=error)


@post("/users/{user_id:str}/opt-outs", include_in_schema=False, status_code=200)
async def add_opt_out(
    request: Request[Any, Any, Any], user_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Opt the user out of the chosen channel, with the staff member's reason."""
    form = await request.form()
    channel = str(form.get("channel", "")).strip()
    if channel not in runtime.registry:
        return await _panel(request, runtime, user_id, f"{channel!r} is not an active channel.")
    reason = str(form.get("reason", "")).strip() or None
    await runtime.opt_outs.record(user_id, channel, "console", reason)
    return await _panel(request, runtime, user_id)


@post("/users/{user_id:str}/opt-outs/{channel:str}/remove", include_in_schema=False, status_code=200)
async def remove_user_opt_out(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    channel: FromPath[str],
    runtime: NamedDependency[Runtime],
) -> Response[Any]:
    """Opt the user back in on this channel."""
    await runtime.opt_outs.remove(user_id, channel)
    return await _panel(request, runtime, user_id)
