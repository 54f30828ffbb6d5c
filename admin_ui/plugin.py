"""The staff console as a Litestar plugin: every route under ``/console``, behind login.

Security, in one place: server-side sessions in MongoDB that expire (idle and absolute), a CSRF token
checked on every state-changing request (htmx sends it in a header), HttpOnly + SameSite=Lax cookies
that are Secure unless configured off (``CONSOLE_SECURE_COOKIES=false``, which ``tidings run`` sets
since it serves only 127.0.0.1), a delay and a lock-out after failed logins, argon2 hashes, and a
Content-Security-Policy without inline script. The JSON API keeps its own authentication story.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from beanie import init_beanie
from litestar import Litestar, Request, Response, Router, get
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins import InitPluginProtocol
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from admin_ui import (
    delivery_pages,
    directory_pages,
    event_pages,
    inbox_pages,
    key_pages,
    login,
    opt_out_pages,
    overview_pages,
    staff_pages,
    suppression_pages,
    template_history_pages,
    template_pages,
)
from admin_ui.console import Console
from admin_ui.roles import account_guard
from admin_ui.sessions import (
    SESSIONS_COLLECTION,
    LoginRequired,
    MongoSessionStore,
    SessionConfig,
    login_required_handler,
    require_staff,
)
from admin_ui.staff import Staff
from admin_ui.staff_cli import announce_first_staff, staff
from host.plugins.app import AppContext, AppPlugin, EmbeddedContext
from host.storage.documents import utcnow

__all__ = ["AdminPlugin", "Console", "ConsolePlugin", "console_guard"]

STATIC_DIR = Path(__file__).parent / "static"


def console_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """:func:`require_staff` on every console route but the login form (at the sessions' clock)."""
    if not handler.opt.get("public"):
        clock = connection.app.state.get("console_clock", utcnow)
        require_staff(connection, handler, now=clock())


@get("/", include_in_schema=False)
async def console_home(request: Request[Any, Any, Any]) -> Response[Any]:
    """The console starts at its Overview."""
    return Redirect(path="/console/overview", status_code=303)


ROUTE_HANDLERS = [
    login.login_form,
    login.login_submit,
    login.logout,
    console_home,
    overview_pages.overview,
    template_pages.list_templates,
    template_pages.new_template,
    template_pages.edit_template,
    template_pages.create_template,
    template_pages.save_template,
    template_pages.delete_template,
    template_pages.preview_template,
    template_pages.preview_frame,
    template_pages.send_test,
    template_pages.send_test_to_me,
    template_history_pages.template_history,
    template_history_pages.restore_version,
    delivery_pages.list_dispatches,
    delivery_pages.dispatch_page,
    delivery_pages.cancel_dispatch,
    delivery_pages.failure_log,
    delivery_pages.retry_delivery,
    delivery_pages.retry_matching,
    delivery_pages.delivery_row,
    event_pages.list_events,
    event_pages.replay_event,
    directory_pages.list_clusters,
    directory_pages.create_cluster,
    directory_pages.cluster_page,
    directory_pages.save_cluster,
    directory_pages.delete_cluster,
    key_pages.list_keys,
    key_pages.create_key,
    key_pages.revoke_key,
    staff_pages.list_staff,
    staff_pages.create_staff_account,
    staff_pages.disable_staff,
    staff_pages.enable_staff,
    directory_pages.list_users,
    directory_pages.user_page,
    opt_out_pages.add_opt_out,
    opt_out_pages.remove_user_opt_out,
    suppression_pages.list_suppressions,
    suppression_pages.remove_suppression,
    suppression_pages.bounce_mail,
    suppression_pages.bounce_mail_raw,
    suppression_pages.read_bounce_mail_again,
    inbox_pages.list_inbox,
    inbox_pages.capture_page,
    inbox_pages.capture_html,
    inbox_pages.capture_attachment,
    inbox_pages.capture_raw,
    inbox_pages.clear_inbox,
]


class AdminPlugin(InitPluginProtocol):
    """Adds the console under ``/console``; its pages get the Runtime through dependency injection."""

    def __init__(
        self,
        context: AppContext,
        *,
        secure_cookies: bool | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._context = context
        env = context.settings.env
        self.secure_cookies = env.console_secure_cookies if secure_cookies is None else secure_cookies
        self._console: Console | None = None

        def now() -> datetime:
            return clock()

        #: what session expiry (idle and absolute) is measured against; tests pass a clock of their own.
        #: A function: Litestar deep-copies the router's middleware (the store with it) and the app state,
        #: and a function is copied as itself, so the clock stays the caller's object
        self.clock = now
        self.session_store = MongoSessionStore(lambda: self.console().sessions_collection, now)

    def console(self) -> Console:
        """The console's storage of the running application."""
        assert self._console is not None, "the application has not started"
        return self._console

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Bind the console's storage to the application's database (once the Runtime is built)."""
        db = self._context.runtime().store.db
        await init_beanie(database=db, document_models=[Staff])
        await db[SESSIONS_COLLECTION].create_index("expires_at", expireAfterSeconds=0)
        self._console = Console(db, self._context.settings.env.secret_key)
        await self._console.previews.ensure_indexes()
        app.state["console_inbox"] = self._context.runtime().inbox is not None  # the navigation shows it
        try:
            yield
        finally:
            self._console = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the console router, its static files, its dependency and its lifespan."""
        sessions = SessionConfig(self.session_store, secure=self.secure_cookies)
        console = Router(
            path="/console",
            route_handlers=ROUTE_HANDLERS,
            guards=[console_guard, account_guard(lambda: self.console().accounts)],
            middleware=[sessions.middleware],
            # a closure, not the bound method: Litestar deep-copies a router's dependencies
            dependencies={"console": Provide(lambda: self.console(), sync_to_thread=False)},
            exception_handlers={LoginRequired: login_required_handler},
            request_class=HTMXRequest,  # request.htmx: whether htmx asked (for a fragment)
            include_in_schema=False,
        )
        static = create_static_files_router(
            path="/console/static", directories=[STATIC_DIR], include_in_schema=False
        )
        app_config.route_handlers.extend([console, static])
        app_config.state["console_secure_cookies"] = self.secure_cookies
        app_config.state["console_clock"] = self.clock
        app_config.lifespan.append(self.lifespan)
        return app_config


class ConsolePlugin(AppPlugin):
    """The console as an app plugin (entry point ``console`` of ``tidings.plugins``)."""

    name = "console"

    def litestar_plugins(self, context: AppContext) -> list[Any]:
        """The console's pages."""
        return [AdminPlugin(context)]

    def commands(self) -> list[click.Command]:
        """``tidings staff``."""
        return [staff]

    def on_embedded_start(self, context: EmbeddedContext) -> None:
        """The first ``tidings run`` creates ``admin@tidings.localhost`` and prints its one-time password."""
        announce_first_staff(context.mongodb_url, context.database, f"{context.base_url}/console")
