"""The users collection as dispatch reads it: mapped fields, id spellings, lookups and cluster streams.

Users are free-form documents (SPEC §1); ``userFields`` maps the fields Tidings reads. Every query here
filters on one indexed field (the mapped id, or the clusters field), as NOTES asks of the hot path.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from bson import ObjectId

from host.plugins.channel import Channel
from host.settings import UserFields
from host.storage.queries import find_at_once
from host.storage.store import Store

__all__ = [
    "NOT_PUBLIC",
    "PUBLIC",
    "expired_field",
    "find_users",
    "id_values",
    "inactive_message",
    "inactive_state",
    "mapped_field",
    "read_field",
    "stream_cluster_users",
    "user_filter",
    "user_projection",
    "write_field",
]

Doc = dict[str, Any]
#: the CRUD state of a live document; users in any other state (DRAFT, TRASH, DELETED) are not messaged
PUBLIC = "PUBLIC"
#: ``lastError.code`` of a delivery skipped because its user is soft-deleted
NOT_PUBLIC = "not-public"


def read_field(document: Mapping[str, Any], path: str) -> Any:
    """Read a possibly dotted field (``contacts.mail``) from a user document."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def write_field(document: Doc, path: str, value: Any) -> None:
    """Set a possibly dotted field (``contacts.mail``), creating the objects on the way."""
    *parents, last = path.split(".")
    for part in parents:
        child = document.get(part)
        if not isinstance(child, dict):
            child = document[part] = {}
        document = child
    document[last] = value


def expired_field(address_field: str) -> str:
    """Where a user's address reported gone is recorded: beside it, ``<field>Expired``."""
    return f"{address_field}Expired"


@functools.lru_cache(maxsize=256)
def mapped_field(fields: UserFields, key: str) -> str:
    """``fields.field_for(key)``, cached."""
    # field_for walks the whole mapping; every request asks the same few questions
    return fields.field_for(key)


def inactive_state(fields: UserFields, user: Mapping[str, Any]) -> str | None:
    """The user's CRUD state (``userFields.state``) if it keeps the user from being messaged, else None.

    Users without the field are messaged: a collection that is not a CRUD's has no states. The state is
    checked here, in Python, after the lookup on the one indexed field (the development database uses no
    index for a filter on two fields).
    """
    if fields.state is None:
        return None
    state = read_field(user, fields.state) if "." in fields.state else user.get(fields.state)
    if state is None or state == PUBLIC:
        return None
    return str(state)


def inactive_message(fields: UserFields, state: str) -> str:
    """The failure of a user who is soft-deleted in the CRUD collection."""
    return f"user is not {PUBLIC} ({fields.state} is {state!r}): only {PUBLIC} users are messaged"


def user_projection(fields: UserFields, channels: Iterable[Channel]) -> dict[str, int]:
    """Only the fields dispatch needs: id, state, the requested channels' addresses and their expiries."""
    projection = {"_id": 1, fields.id: 1}
    if fields.state is not None:
        projection[fields.state] = 1
    for channel in channels:
        field = mapped_field(fields, channel.address_field)
        projection[field] = 1
        projection[expired_field(field)] = 1
    return projection


def user_filter(fields: UserFields, user_id: str) -> Doc:
    """The query that finds one user by its (mapped) id."""
    return {fields.id: {"$in": id_values(fields, [user_id])}}


async def find_users(store: Store, ids: Sequence[str], projection: Mapping[str, int]) -> dict[str, Doc]:
    """The users with these ids (on the mapped id field), keyed by id; unknown ids are absent."""
    id_field = store.fields.id
    users = await find_at_once(store.users, {id_field: {"$in": id_values(store.fields, ids)}}, projection)
    return {str(read_field(user, id_field)): user for user in users}


def id_values(fields: UserFields, ids: Sequence[str]) -> list[Any]:
    """The values to look these ids up with: ``_id`` may also hold them as ObjectIds."""
    if fields.id != "_id":
        return list(ids)
    # `_id` may be an ObjectId in collections filled by other tools: match both spellings
    values: list[Any] = list(ids)
    values.extend(ObjectId(value) for value in ids if ObjectId.is_valid(value))
    return values


async def stream_cluster_users(
    store: Store,
    clusters: Sequence[str],
    projection: Mapping[str, int],
    *,
    after: Any = None,
    key: str = "_id",
    batch_size: int = 2000,
) -> AsyncIterator[list[Doc]]:
    """Users of any of the clusters, in ``key`` order, a batch at a time, resuming after ``after``.

    The next batch is read while the caller works on this one (one read in flight, never two on the
    cursor): the fan-out plans and writes a batch in the time the database takes to send the next.
    """
    query: Doc = {store.fields.clusters: {"$in": list(clusters)}}
    if after is not None:
        query = {"$and": [query, {key: {"$gt": after}}]}
    fields = dict(projection)
    if key != "_id":
        fields.pop("_id", None)
        fields["_id"] = 0
    fields[key] = 1
    cursor = store.users.find(query, fields, batch_size=batch_size).sort(key, 1)
    pending = asyncio.ensure_future(cursor.to_list(batch_size))
    try:
        while batch := await pending:
            pending = asyncio.ensure_future(cursor.to_list(batch_size))
            yield batch
    finally:
        if not pending.done():  # the caller stopped early: no read left running on its own
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        await cursor.close()
