"""API key checks: each API route needs a scope, and the key sent as ``Authorization: Bearer`` must hold it.

The scope of a route is the ``scope`` in its handler's ``opt`` (``@post("/send", opt={"scope": "send"})``),
or else follows from the method: ``GET``/``HEAD`` need ``read``, every other method ``manage``. Open
without a key: the probes (``/-/...``), ``/metrics``, the OpenAPI document (``/schema``), the home page
``/``, the console (``/console``, which has its own login and roles), and any route declaring
``opt={"public": True}`` (for links followed without a key, such as a signed unsubscribe link).

A missing, unknown, wrong or revoked key is answered 401, with the same message for all but the missing
one, so the answer never tells which keys exist; a valid key without the scope gets 403.

Checks are on unless ``TIDINGS_API_AUTH=off`` (for deployments behind an authenticating gateway, as Mia
runs it): the service then logs a warning at start-up. ``tidings run`` (embedded) sets it off by default.
The check runs as the outermost API middleware, before an ``Idempotency-Key`` could replay a stored answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from host.access.api_keys import SCOPES, ApiKeys
from host.errors import ConfigurationError

__all__ = [
    "AUTH_ENV",
    "OPEN_PREFIXES",
    "api_key_middleware",
    "describe_api_auth",
    "install_api_auth",
    "is_open",
    "required_scope",
]

log = logging.getLogger(__name__)

AUTH_ENV = "TIDINGS_API_AUTH"
#: path templates served without a key (matched as the path itself or a path below it)
OPEN_PREFIXES = ("/-", "/metrics", "/schema", "/console")
_OPEN_EXACT = frozenset({"/"})
_READ_METHODS = frozenset({"GET", "HEAD"})
_MISSING = "missing API key: send it as `Authorization: Bearer <key>`"
_INVALID = "invalid API key"


def is_open(path_template: str) -> bool:
    """Whether a route (by its path template) is served without a key."""
    if path_template in _OPEN_EXACT:
        return True
    return any(path_template == p or path_template.startswith(p + "/") for p in OPEN_PREFIXES)


def required_scope(handler: BaseRouteHandler, method: str, path_template: str) -> str | None:
    """The scope a request needs: None on open routes, else the handler's ``opt`` or the method's."""
    if is_open(path_template) or handler.opt.get("public"):
        return None
    declared = handler.opt.get("scope")
    if declared is not None:
        return str(declared)
    return "read" if method.upper() in _READ_METHODS else "manage"


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return None


def _unauthorized(message: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=message, headers={"WWW-Authenticate": 'Bearer realm="tidings"'})


def api_key_middleware(keys: Callable[[], ApiKeys]) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory; ``keys`` gives the running app's API keys (bound to its event loop)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                method = str(scope.get("method", "GET"))
                needed = required_scope(scope["route_handler"], method, str(scope.get("path_template", "")))
                if needed is not None:
                    token = _bearer(scope)
                    if token is None:
                        raise _unauthorized(_MISSING)
                    record = await keys().verify(token) if token else None
                    if record is None:
                        raise _unauthorized(_INVALID)
                    if needed not in record.scopes:
                        raise PermissionDeniedException(detail=f"this API key lacks the {needed!r} scope")
                    state = scope.setdefault("state", {})
                    state["api_key"], state["api_key_name"] = record.prefix, record.name
            await app(scope, receive, send)

        return handle

    return middleware


def _check_declared_scopes(app: Litestar) -> None:
    """A route declaring an unknown scope stops start-up (it could never be called)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            declared = handler.opt.get("scope")
            if declared is not None and declared not in SCOPES:
                raise ConfigurationError(
                    f"route {route.path}", f"unknown scope {declared!r} (known: {', '.join(SCOPES)})"
                )


def _warn_disabled(app: Litestar) -> None:
    log.warning(
        "API key checks are OFF (%s=off): anyone who reaches this service can send and read; "
        "run it only behind an authenticating gateway",
        AUTH_ENV,
    )


def install_api_auth(app_config: AppConfig, enabled: bool, keys: Callable[[], ApiKeys]) -> None:
    """Add the key checks to the app (or, when turned off, the start-up warning that says so)."""
    if enabled:
        app_config.middleware.append(api_key_middleware(keys))
        app_config.on_startup.append(_check_declared_scopes)
    else:
        app_config.on_startup.append(_warn_disabled)


def describe_api_auth(enabled: bool) -> str:
    """One line for a start-up banner: whether the API wants keys, and how to change that."""
    if enabled:
        return f"keys required ({AUTH_ENV}=on): `tidings apikey create NAME --scope send`"
    return f"keys NOT required ({AUTH_ENV}=off, the embedded default; set it to on to require them)"
