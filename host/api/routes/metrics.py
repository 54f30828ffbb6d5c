"""GET /metrics (Prometheus exposition) and the HTTP request metrics, both from Litestar's Prometheus plugin;
GET /stats, the delivery statistics of the console's Overview as JSON (scope ``read``).

``PROMETHEUS`` configures Litestar's ``PrometheusMiddleware``: every request a route answers is counted
and timed by method, route template (``group_path``, so ``/dispatches/{dispatch_id}`` is one series and
the cardinality stays bounded) and status, as ``tidings_http_requests_total``,
``tidings_http_request_duration_seconds`` and friends; requests no route matches are not counted (the
middleware runs per route). :class:`MetricsController` is Litestar's
``PrometheusController`` with the database's delivery totals appended to the page: this process's
metrics (HTTP, delivery outcomes, provider latency) come first, then :class:`DeliveryTotals`.
"""

from __future__ import annotations

from litestar import Response, get
from litestar._asgi.utils import wrap_in_exception_handler
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController, PrometheusMiddleware
from litestar.types import ASGIApp

from host.delivery.metrics import CONTENT_TYPE, render_totals
from host.delivery.stats import DeliveryStats
from host.runtime.wiring import Runtime

__all__ = ["PROMETHEUS", "MetricsController", "stats"]


class _AnsweredStatusMiddleware(PrometheusMiddleware):
    """Litestar's PrometheusMiddleware, counting the status of answers that inner middleware raise.

    The API key check raises its 401/403 and the idempotency middleware its 409s; Litestar answers them
    in an exception handler outside this middleware, which then never sees ``http.response.start`` and
    counts a 200 (litestar#4747, fixed upstream after 2.25). Litestar's own exception handler, the one
    it puts between every handler and its middleware, answers them inside instead: same response.
    """

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(wrap_in_exception_handler(app), config)


#: the HTTP request metrics: labelled by route template, not by path
PROMETHEUS = PrometheusConfig(
    app_name="tidings", prefix="tidings_http", group_path=True, middleware_class=_AnsweredStatusMiddleware
)


class MetricsController(PrometheusController):
    """Litestar's Prometheus endpoint, with the delivery totals of the database after this process's own."""

    include_in_schema = False

    @get(summary="Prometheus metrics")
    async def get(self, runtime: NamedDependency[Runtime]) -> Response[bytes]:
        """This process's counters and histograms, and delivery totals from the database."""
        own: Response[bytes] = await PrometheusController.get.fn(self)  # Litestar's exposition
        await runtime.delivery_totals.refresh()
        return Response(own.content + render_totals(runtime.delivery_totals), media_type=CONTENT_TYPE)


@get("/stats", summary="Delivery statistics of the last 24 hours", opt={"scope": "read"})
async def stats(runtime: NamedDependency[Runtime]) -> DeliveryStats:
    """Deliveries per minute by channel and outcome, failure rate per provider, queue depth per channel
    (and lane: null until lanes exist) and the oldest queued delivery: what the console's Overview draws."""
    return await runtime.stats.snapshot()
