"""Console sessions: stored server-side in MongoDB, expiring, with a CSRF token and a login guard.

Why MongoDB: the API may run as several processes (``tidings api --workers N``) and the embedded mode has
no Redis, but every mode has the database. Expiry is checked on every read (``expires_at``), so it does
not depend on the database enforcing its TTL index (the development database may not).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.plugins.htmx import ClientRedirect, HTMXDetails
from litestar.response import Redirect
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession

from host.storage.documents import utcnow

__all__ = [
    "CSRF_HEADER",
    "IDLE_SECONDS",
    "LIFETIME_SECONDS",
    "SESSIONS_COLLECTION",
    "LoginRequired",
    "MongoSessionStore",
    "SessionConfig",
    "csrf_token",
    "login_required_handler",
    "require_staff",
    "session_of",
]

CSRF_HEADER = "X-CSRF-Token"
SESSIONS_COLLECTION = "console_sessions"
#: a session ends after this long without a request ...
IDLE_SECONDS = 2 * 3600
#: ... and in any case this long after the login
LIFETIME_SECONDS = 12 * 3600
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class MongoSessionStore(Store):
    """A Litestar store on one MongoDB collection, bound lazily to the API's database.

    ``clock`` (default: the real one) is what expiry is measured against, so a test can let hours pass.
    """

    def __init__(self, collection: Callable[[], Any], clock: Callable[[], datetime] = utcnow) -> None:
        self._collection = collection
        self.clock = clock

    @property
    def _sessions(self) -> Any:
        return self._collection()

    def _expiry(self, expires_in: int | timedelta | None) -> datetime | None:
        if expires_in is None:
            return None
        seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
        return self.clock() + timedelta(seconds=seconds)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await self._sessions.replace_one(
            {"_id": key}, {"data": data, "expires_at": self._expiry(expires_in)}, upsert=True
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        doc = await self._sessions.find_one({"_id": key})
        if doc is None:
            return None
        expires_at = doc.get("expires_at")
        if expires_at is not None and expires_at <= self.clock():
            await self._sessions.delete_one({"_id": key})
            return None
        if renew_for is not None and expires_at is not None:
            await self._sessions.update_one({"_id": key}, {"$set": {"expires_at": self._expiry(renew_for)}})
        return bytes(doc["data"])

    async def delete(self, key: str) -> None:
        await self._sessions.delete_one({"_id": key})

    async def delete_all(self) -> None:
        await self._sessions.delete_many({})

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        doc = await self._sessions.find_one({"_id": key})
        if doc is None or doc.get("expires_at") is None:
            return None
        return int((doc["expires_at"] - self.clock()).total_seconds())


class ConsoleSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side backend, but anonymous visitors get no cookie and no stored session."""

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if not scope_session or scope_session is Empty:
            if not connection.cookies.get(self.config.key):
                return
            scope_session = Empty  # a logged-out or expired session: delete it and clear the cookie
        await super().store_in_message(scope_session, message, connection)


class SessionConfig(ServerSideSessionConfig):
    """Server-side sessions kept in one store object rather than in the app's store registry."""

    _backend_class = ConsoleSessionBackend

    def __init__(self, store: Store, *, secure: bool) -> None:
        super().__init__(
            key="tidings_console",
            max_age=IDLE_SECONDS,
            renew_on_access=True,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        self._store = store

    def get_store_from_app(self, app: Litestar) -> Store:
        return self._store


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The connection's session as a dict (empty without the session middleware or a session)."""
    session = connection.scope.get("session")
    return session if isinstance(session, dict) else {}


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use (synchronizer-token pattern)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


class LoginRequired(NotAuthorizedException):
    """No valid console session: pages redirect to the login form, htmx requests get 401."""


def require_staff(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, *, now: datetime | None = None
) -> None:
    """Guard of every console route: a live staff session, and the CSRF token on unsafe methods.

    ``now`` (default: the clock) is when the request came, to measure the session's absolute lifetime.
    """
    session = session_of(connection)
    started = session.get("login_at")
    if not session.get("staff") or not isinstance(started, (int, float)):
        raise LoginRequired()
    if (now or utcnow()).timestamp() - started > LIFETIME_SECONDS:
        connection.scope["session"] = {}
        raise LoginRequired()
    if connection.scope.get("method", "GET") not in _SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER, "")
        expected = session.get("csrf", "")
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            raise PermissionDeniedException("missing or wrong CSRF token")


def login_required_handler(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    """Send browsers to the login page; tell htmx to do the same with a 401."""
    # exception handlers get the application's request class, not the console's HTMXRequest
    if HTMXDetails(request):
        refused = ClientRedirect("/console/login")  # htmx follows HX-Redirect whatever the status
        refused.status_code, refused.content = 401, "login required"
        return refused
    return Redirect(path="/console/login", status_code=303)
