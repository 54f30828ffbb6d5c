"""Console pages for API keys (admins only): list, create (the key is shown once), revoke."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.pages import page
from admin_ui.roles import ADMIN_ONLY
from admin_ui.sessions import session_of
from host.access.api_keys import SCOPES, NewApiKey
from host.errors import RequestError
from host.runtime.wiring import Runtime

__all__ = ["create_key", "list_keys", "revoke_key"]


async def _keys_view(
    request: HTMXRequest,
    runtime: Runtime,
    *,
    made: NewApiKey | None = None,
    error: str = "",
) -> Response[Any]:
    keys = await runtime.api_keys.list()
    name = "_api_keys.html" if request.htmx else "api_keys.html"
    return page(request, name, keys=keys, scopes=SCOPES, made=made, error=error)


@get("/keys", opt=ADMIN_ONLY, include_in_schema=False)
async def list_keys(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Every key: prefix, name, scopes, who made it and when, last use, revoked or active."""
    return await _keys_view(request, runtime)


@post("/keys", opt=ADMIN_ONLY, include_in_schema=False, status_code=200)
async def create_key(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Create a key from the form; the answer shows it this once (only its hash is stored)."""
    form = await request.form()
    creator = str(session_of(request).get("staff", ""))
    try:
        made = await runtime.api_keys.create(
            str(form.get("name", "")), [str(s) for s in form.getall("scope", [])], created_by=creator
        )
    except RequestError as exc:
        return await _keys_view(request, runtime, error=exc.message)
    return await _keys_view(request, runtime, made=made)


@post("/keys/{prefix:str}/revoke", opt=ADMIN_ONLY, include_in_schema=False, status_code=200)
async def revoke_key(
    request: HTMXRequest, prefix: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Revoke a key: API calls with it get 401 from now on."""
    await runtime.api_keys.revoke(prefix)
    return await _keys_view(request, runtime)
