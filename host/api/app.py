"""The Litestar application: ``create_app()`` returns ``Litestar(plugins=[...])``; wiring lives in plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from beanie import init_beanie
from bson.errors import InvalidDocument
from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins import InitPluginProtocol

from host import __version__
from host.api.auth import install_api_auth
from host.api.errors import error_response, exception_handlers
from host.api.idempotency import idempotency_middleware
from host.api.routes import clusters, opt_outs, schedule, template_versions, templates, unsubscribe, users
from host.api.routes.dispatches import get_dispatch, list_deliveries
from host.api.routes.health import healthz, ready
from host.api.routes.home import home
from host.api.routes.metrics import count_answered, metrics
from host.api.routes.send import saga_send, send
from host.api.routes.twilio_status import twilio_status
from host.events.flow_manager import FlowManagerNotifier
from host.runtime.actors import Actors
from host.runtime.wiring import Runtime
from host.storage.documents import ALL_DOCUMENTS
from host.storage.migrations import ensure_migrated

__all__ = ["TidingsPlugin", "create_app"]


def _broker_ping(actors: Actors) -> Callable[[], Any]:
    client = getattr(actors.broker, "client", None)
    return client.ping if client is not None else (lambda: None)


def _on_invalid_document(request: Request[Any, Any, Any], exc: InvalidDocument) -> Response[Any]:
    # only a request's own data reaches BSON unchecked (field names with NUL bytes, say): the
    # client's fault, not the server's
    return error_response(400, f"body: cannot be stored: {exc}")


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
        await init_beanie(database=runtime.store.db, document_models=ALL_DOCUMENTS)
        await runtime.store.ensure_user_indexes()
        self.runtime = runtime
        try:
            yield
        finally:
            await self.notifier.drain()
            self.runtime = None
            await runtime.close()

    def _runtime(self) -> Runtime:
        assert self.runtime is not None, "the application has not started"
        return self.runtime

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register routes, dependencies, exception handlers and the lifespan."""
        app_config.route_handlers.extend(
            [send, saga_send, get_dispatch, list_deliveries, healthz, ready, home, metrics]
        )
        app_config.before_send.append(count_answered)
        app_config.route_handlers.extend([*templates.ROUTES, *clusters.ROUTES, *users.ROUTES])
        app_config.route_handlers.extend(template_versions.ROUTES)
        app_config.route_handlers.extend([*opt_outs.ROUTES, *unsubscribe.ROUTES])
        app_config.route_handlers.extend(schedule.ROUTES)
        app_config.route_handlers.append(twilio_status)  # signed by Twilio, no API key
        app_config.dependencies.update(
            {
                "runtime": Provide(self._runtime, sync_to_thread=False),
                "notifier": Provide(lambda: self.notifier, sync_to_thread=False),
                "broker_ping": Provide(lambda: _broker_ping(self.actors), sync_to_thread=False),
            }
        )
        app_config.exception_handlers.update(exception_handlers)
        app_config.exception_handlers[InvalidDocument] = _on_invalid_document
        # key checks first: an Idempotency-Key must not replay a stored answer to a caller without a key
        install_api_auth(app_config, self.actors.settings.environ, lambda: self._runtime().store.db)
        app_config.middleware.append(idempotency_middleware(lambda: self._runtime().store))
        app_config.lifespan.append(self.lifespan)
        return app_config


def create_app(actors: Actors, *, extra_plugins: list[InitPluginProtocol] | None = None) -> Litestar:
    """The Tidings ASGI application for these actors (and so this broker and settings)."""
    from admin_ui import AdminPlugin  # the console reads through TidingsPlugin's runtime

    tidings = TidingsPlugin(actors)
    return Litestar(
        plugins=[tidings, AdminPlugin(tidings), *(extra_plugins or [])],
        openapi_config=OpenAPIConfig(title="Tidings", version=__version__),
    )
