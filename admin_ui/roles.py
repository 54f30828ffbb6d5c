"""Staff roles in the console: the account behind a session is read on every request, and admin-only
routes (``opt={"role": "admin"}``) answer 403 to editors.

Reading the account each time (one indexed ``find_one``; the console is not a hot path) makes a
disabled account or a changed role count at once, in every open session and every API process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from admin_ui.sessions import LoginRequired, session_of
from admin_ui.staff import StaffAccounts

__all__ = ["ADMIN", "ADMIN_ONLY", "EDITOR", "account_guard"]

ADMIN = "admin"
EDITOR = "editor"
#: the ``opt`` of a console route only admins may use
ADMIN_ONLY: dict[str, Any] = {"role": ADMIN}

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def account_guard(accounts: Callable[[], StaffAccounts]) -> Guard:
    """The guard after the login check: the account still exists, is enabled, and has the route's role."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get("public"):
            return
        session = session_of(connection)
        account = await accounts().access(str(session.get("staff")))
        if account is None or account.get("disabled_at") is not None:
            connection.scope["session"] = {}  # ends the stored session and clears its cookie
            raise LoginRequired()
        role = account.get("role") or ADMIN  # accounts stored before roles existed are admins
        if session.get("role") != role:
            session["role"] = role  # shown in the pages (navigation); never trusted for access
        wanted = handler.opt.get("role")
        if wanted is not None and role != wanted:
            raise PermissionDeniedException(detail=f"this page is for {wanted}s only")

    return guard
