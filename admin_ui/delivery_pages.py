"""Console pages for dispatches, their deliveries, and the failure log with its retry actions.

A retry puts a failed or skipped delivery back in the queue as it is (attempt count unchanged, no due
time) and hands it to the broker through the outbox, like any other delivery (``runtime.dispatches``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.pages import PAGE_SIZE, client_redirect, console_path, page, partial, skip_of
from admin_ui.sessions import session_of
from host.errors import NotFound, RequestError
from host.runtime.wiring import Runtime

__all__ = [
    "cancel_dispatch",
    "delivery_row",
    "dispatch_page",
    "failure_log",
    "list_dispatches",
    "retry_delivery",
    "retry_matching",
]


@get("/dispatches", include_in_schema=False)
async def list_dispatches(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Dispatches, newest first, with per-channel counts by status."""
    skip = skip_of(request)
    dispatches, counts = await runtime.dispatches.recent(skip=skip, limit=PAGE_SIZE)
    return page(request, "dispatches.html", dispatches=dispatches, counts=counts, skip=skip, size=PAGE_SIZE)


@get("/dispatches/{dispatch_id:str}", include_in_schema=False)
async def dispatch_page(
    request: HTMXRequest, dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One dispatch and its deliveries, filtered by channel and status."""
    dispatch = await runtime.dispatches.get(dispatch_id)
    criteria = runtime.dispatches.filter(request.query_params, failed_only=False, dispatch_id=dispatch_id)
    skip = skip_of(request)
    deliveries = await runtime.dispatches.deliveries(criteria, skip=skip, limit=PAGE_SIZE)
    counts = await runtime.dispatches.counts(dispatch_id)
    name = "_delivery_rows.html" if request.htmx else "dispatch.html"
    return page(
        request, name, dispatch=dispatch, deliveries=deliveries, counts=counts,
        params=request.query_params, skip=skip, size=PAGE_SIZE, channels=list(runtime.registry),
    )  # fmt: skip


@get("/failures", include_in_schema=False)
async def failure_log(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Failed and skipped deliveries, most recent first, filtered."""
    criteria = runtime.dispatches.filter(request.query_params, failed_only=True)
    deliveries = await runtime.dispatches.deliveries(
        criteria, sort="updated_at", descending=True, limit=PAGE_SIZE * 2
    )
    total = await runtime.dispatches.count(criteria)
    name = "_delivery_rows.html" if request.htmx else "failures.html"
    return page(
        request, name, deliveries=deliveries, total=total, params=request.query_params,
        channels=list(runtime.registry), query=request.url.query,
    )  # fmt: skip


async def _rows(request: Request[Any, Any, Any], runtime: Runtime, ids: list[str]) -> Response[Any]:
    return partial(request, "_delivery_rows.html", deliveries=await runtime.dispatches.by_ids(ids))


@post("/deliveries/{delivery_id:str}/retry", include_in_schema=False, status_code=200)
async def retry_delivery(
    request: Request[Any, Any, Any], delivery_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Retry one delivery; answers its row, which then follows it until it settles."""
    found = await runtime.dispatches.by_ids([delivery_id])
    if not found:
        raise NotFound(f"no delivery {delivery_id!r}")
    await runtime.dispatches.retry(found)
    return await _rows(request, runtime, [delivery_id])


@post("/failures/retry", include_in_schema=False, status_code=200)
async def retry_matching(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Retry every failed or skipped delivery matching the filter form (up to a limit)."""
    form = await request.form()
    ids = await runtime.dispatches.retry_matching(runtime.dispatches.filter(form, failed_only=True))
    return await _rows(request, runtime, ids[: PAGE_SIZE * 2])


@get("/deliveries/{delivery_id:str}/row", include_in_schema=False)
async def delivery_row(
    request: Request[Any, Any, Any], delivery_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One delivery's table row (polled by htmx while the delivery is queued or sending)."""
    return await _rows(request, runtime, [delivery_id])


@post("/dispatches/{dispatch_id:str}/cancel", include_in_schema=False, status_code=200)
async def cancel_dispatch(
    request: Request[Any, Any, Any], dispatch_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Cancel a scheduled dispatch; htmx goes back to its page, which shows the new state (or why not)."""
    query = ""
    try:
        await runtime.dispatches.cancel(dispatch_id, by=str(session_of(request).get("staff", "")))
    except RequestError as exc:
        if exc.status_code != 409:
            raise
        query = "cancel=started"  # it started meanwhile: the page says so
    return client_redirect(console_path("dispatches", dispatch_id, query=query))
