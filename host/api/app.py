"""The Litestar application: ``create_app()`` returns ``Litestar(plugins=[...])``; wiring lives in plugins.

:class:`TidingsPlugin` adds the public API, its error shape, and the ``runtime`` dependency (a Runtime
built on the server's event loop, host.runtime.wiring). App plugins found through the
``tidings.plugins`` entry-point group (host.plugins.app) add theirs after it: the console is one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bson.errors import InvalidDocument
from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from host.api import embedded
from host.api.auth import install_api_auth
from host.api.errors import error_response, exception_handlers
from host.api.idempotency import idempotency_middleware
from host.api.openapi import complete_openapi, openapi_config
from host.api.routes import (
    clusters,
    dispatches,
    opt_outs,
    template_versions,
    templates,
    unsubscribe,
    users,
)
from host.api.routes.deliverability import providers, suppressions
from host.api.routes.health import healthz, ready
from host.api.routes.home import home
from host.api.routes.metrics import PROMETHEUS, MetricsController, stats
from host.api.routes.send import saga_send, send
from host.api.routes.twilio_status import twilio_status
from host.events.flow_manager import FlowManagerNotifier
from host.plugins.app import AppContext, AppPlugin, discover_app_plugins
from host.runtime.actors import Actors
from host.runtime.collector import settle_collector
from host.runtime.wiring import Runtime
from host.storage.migrations import ensure_migrated

__all__ = ["TidingsPlugin", "create_app", "settle_collector_after_startup"]


def _broker_ping(actors: Actors) -> Callable[[], Any]:
    client = getattr(actors.broker, "client", None)
    return client.ping if client is not None else (lambda: None)


def _on_invalid_document(request: Request[Any, Any, Any], exc: InvalidDocument) -> Response[Any]:
    # only a request's own data reaches BSON unchecked (field names with NUL bytes, say): the
    # client's fault, not the server's
    return error_response(400, f"body: cannot be stored: {exc}")


def _on_overflow(request: Request[Any, Any, Any], exc: OverflowError) -> Response[Any]:
    # BSON holds integers of up to 8 bytes: a bigger one in a request's data is the client's fault too
    if "8-byte ints" in str(exc):
        return error_response(400, "body: cannot be stored: integers must fit in 64 bits")
    return exception_handlers[Exception](request, exc)


class TidingsPlugin(InitPluginProtocol):
    """Adds the public API, its error shape, and a Runtime built on the server's event loop."""

    def __init__(self, actors: Actors) -> None:
        self.actors = actors
        self.runtime: Runtime | None = None
        self.notifier = FlowManagerNotifier(actors.settings)

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Connect to the database on the server's loop, create indexes, close at shutdown."""
        await ensure_migrated(self.actors.settings)  # refuses a database behind the code
        runtime = self.actors.new_runtime()
        await runtime.prepare_api()
        self.runtime = runtime
        try:
            yield
        finally:
            await self.notifier.drain()
            self.runtime = None
            await runtime.close()

    def current_runtime(self) -> Runtime:
        """The Runtime of the running application (the ``runtime`` dependency)."""
        assert self.runtime is not None, "the application has not started"
        return self.runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register routes, dependencies, exception handlers and the lifespan."""
        app_config.route_handlers.extend([send, saga_send, healthz, ready, home, MetricsController, stats])
        app_config.middleware.insert(0, PROMETHEUS.middleware)  # outermost: it sees every answer
        for module in (dispatches, templates, template_versions, clusters, users, opt_outs, unsubscribe):
            app_config.route_handlers.extend(module.ROUTES)
        app_config.route_handlers.append(twilio_status)  # signed by Twilio, no API key
        app_config.route_handlers.extend(providers.ROUTES)  # signed by the e-mail providers, no API key
        app_config.route_handlers.extend(suppressions.ROUTES)
        if self.actors.inbox:  # the embedded mode's captures (tidings run only)
            app_config.route_handlers.extend(embedded.ROUTES)
        app_config.dependencies.update(
            {
                "runtime": Provide(self.current_runtime, sync_to_thread=False),
                "notifier": Provide(lambda: self.notifier, sync_to_thread=False),
                "broker_ping": Provide(lambda: _broker_ping(self.actors), sync_to_thread=False),
            }
        )
        app_config.exception_handlers.update(exception_handlers)
        app_config.exception_handlers[InvalidDocument] = _on_invalid_document
        app_config.exception_handlers[OverflowError] = _on_overflow
        # key checks first: an Idempotency-Key must not replay a stored answer to a caller without a key
        settings = self.actors.settings
        install_api_auth(app_config, settings.env.api_auth, lambda: self.current_runtime().api_keys)
        app_config.middleware.append(idempotency_middleware(lambda: self.current_runtime().idempotency_keys))
        app_config.lifespan.append(self.lifespan)
        app_config.on_startup.append(complete_openapi)  # the API-key scheme, scopes and errors
        return app_config


def create_app(
    actors: Actors,
    *,
    app_plugins: Sequence[AppPlugin] | None = None,
    extra_plugins: list[InitPluginProtocol] | None = None,
) -> Litestar:
    """The Tidings ASGI application for these actors, with every discovered app plugin (the console ...)."""
    tidings = TidingsPlugin(actors)
    context = AppContext(settings=actors.settings, runtime=tidings.current_runtime)
    plugins: list[Any] = [tidings]
    for plugin in discover_app_plugins() if app_plugins is None else app_plugins:
        plugins.extend(plugin.litestar_plugins(context))
    return Litestar(
        plugins=[*plugins, *(extra_plugins or [])],
        openapi_config=openapi_config(),
        # Litestar's default logging config would reset the root logger (level INFO, its own format)
        # when the app is built, undoing TIDINGS_LOG_LEVEL and TIDINGS_LOG_FORMAT (host.runtime.logs)
        logging_config=None,
    )


def settle_collector_after_startup(app: Litestar) -> None:
    """Serve with the collector settled once start-up is over (host.runtime.collector's
    ``settle_collector`` as the app's last startup hook). A server's hook, not the app's: a test process
    builds many apps and would keep every one frozen."""
    app.on_startup.append(settle_collector)
