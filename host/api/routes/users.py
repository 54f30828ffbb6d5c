"""Tidings' own user API: read, list, replace and delete users, and a streamed bulk upsert.

Users are free-form documents: Tidings reads the mapped fields (``userFields``) and keeps every other
field as it was written. They are addressed by the mapped id field, never by MongoDB's ``_id``.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from host.api.paging import Limit, decode_cursor, next_cursor
from host.audience.user_import import (
    BulkResult,
)
from host.audience.user_records import RecordError, json_array_records, ndjson_records
from host.errors import RequestError
from host.runtime.wiring import Runtime
from host.settings import UserFields

__all__ = [
    "ROUTES",
    "UserPage",
    "bulk_upsert_users",
    "delete_user",
    "get_user",
    "list_users",
    "page_of_users",
    "put_user",
    "user_view",
]

Doc = dict[str, Any]
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


class UserPage(msgspec.Struct, rename="camel", kw_only=True):
    """A page of users in storage order; pass ``nextAfter`` as ``after`` for the next page."""

    items: list[dict[str, Any]]
    next_after: str | None


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (ObjectIds become their hex string)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool | datetime.datetime | None):
        return value
    return str(value)


def user_view(fields: UserFields, doc: Doc) -> dict[str, Any]:
    """A user as the API shows it: every stored field, without ``_id`` unless it is the mapped id."""
    view = _plain(doc)
    if fields.id != "_id":
        view.pop("_id", None)
    return dict(view)


async def page_of_users(runtime: Runtime, query: Doc, after: str | None, limit: int) -> UserPage:
    """One page of the users matching ``query``, in ``_id`` order, after the ``after`` cursor."""
    resume = decode_cursor(after) if after is not None else None
    docs = await runtime.users.page(query, after=resume, limit=limit)
    fields = runtime.users.fields
    return UserPage(items=[user_view(fields, doc) for doc in docs], next_after=next_cursor(docs, limit))


@get("/users/{user_id:str}", summary="A user, by the mapped id field")
async def get_user(user_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """The whole user document, every field included."""
    return user_view(runtime.users.fields, await runtime.users.get(user_id))


@get("/users", summary="List users, filtered by cluster, address or id prefix")
async def list_users(
    runtime: NamedDependency[Runtime],
    cluster: FromQuery[str | None] = None,
    email: FromQuery[str | None] = None,
    phone: FromQuery[str | None] = None,
    id_prefix: Annotated[str | None, QueryParameter(name="idPrefix")] = None,
    after: FromQuery[str | None] = None,
    limit: Limit = 100,
) -> UserPage:
    """Users in ``_id`` order; the filters (exact address, cluster membership, id prefix) combine."""
    query = runtime.users.filter(cluster=cluster, email=email, phone=phone, id_prefix=id_prefix)
    return await page_of_users(runtime, query, after, limit)


@put("/users/{user_id:str}", summary="Create or replace a user")
async def put_user(
    user_id: FromPath[str], data: JSONBody[dict[str, Any]], runtime: NamedDependency[Runtime]
) -> Response[dict[str, Any]]:
    """The body is the whole user (extra fields kept); 201 when created, 200 when replaced."""
    document, created = await runtime.users.put(user_id, data)
    return Response(user_view(runtime.users.fields, document), status_code=201 if created else 200)


@delete("/users/{user_id:str}", summary="Delete a user")
async def delete_user(user_id: FromPath[str], runtime: NamedDependency[Runtime]) -> None:
    """Deliveries already planned for the user are kept (they name the user by id)."""
    await runtime.users.delete(user_id)


@post(
    "/users/bulk",
    status_code=200,
    summary="Upsert many users from NDJSON or a JSON array, streamed",
    request_max_body_size=None,  # streamed in batches: the size of the upload does not matter
)
async def bulk_upsert_users(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> BulkResult:
    """Body: ``application/x-ndjson`` (one user per line) or ``application/json`` (an array of users).

    Users are replaced by their mapped id, created if new, in batches of 1,000; a record without an id
    is reported in ``errors`` with its line (NDJSON) or position (JSON array) and the rest go on.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _NDJSON_TYPES:
        records = ndjson_records(request.stream())
    elif content_type == "application/json" or content_type.endswith("+json"):
        records = json_array_records(request.stream())
    else:
        raise RequestError(
            f"content-type: {content_type or 'none'!r} is not application/x-ndjson or application/json",
            status_code=415,
        )
    upserter = runtime.users.upserter()
    try:
        async for line, record in records:
            await upserter.add(line, record)
    except RecordError as exc:
        if exc.line <= 1:  # nothing was read: the body as a whole is wrong
            raise RequestError(f"body: {exc.message}") from None
        upserter.reject(exc.line, exc.message)
    return await upserter.finish()


#: the route handlers of this module, registered by the application plugin
ROUTES = [list_users, bulk_upsert_users, get_user, put_user, delete_user]
