"""The console's Overview page (the first of its navigation): deliveries, providers and queues at a glance."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.plugins.htmx import HTMXRequest

from admin_ui.overview import COLOURS, build_overview, duration
from admin_ui.pages import page
from host.delivery.stats import OUTCOMES
from host.runtime.wiring import Runtime

__all__ = ["REFRESH_SECONDS", "overview"]

#: how often the page refreshes itself
REFRESH_SECONDS = 5


@get("/overview", include_in_schema=False)
async def overview(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """The last 24 hours per channel and outcome, failure rate per provider, queues and the oldest queued."""
    stats = await runtime.stats.snapshot()
    name = "_overview.html" if request.htmx else "overview.html"
    return page(
        request,
        name,
        view=build_overview(stats, list(runtime.registry)),
        colours=COLOURS,
        outcomes=OUTCOMES,
        duration=duration,
        refresh=REFRESH_SECONDS,
    )
