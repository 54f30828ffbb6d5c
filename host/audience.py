"""Audience resolution: who a dispatch reaches, streamed from the users collection, never all in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from host.channel import Channel
from host.errors import InvalidAddress
from host.settings import UserFields
from host.store import Store

__all__ = [
    "Failure",
    "delivery_id",
    "expired_field",
    "find_users",
    "plan_deliveries",
    "read_field",
    "stream_cluster_users",
    "user_filter",
    "user_projection",
]

Doc = dict[str, Any]


class Failure(msgspec.Struct, frozen=True, rename="camel"):
    """A delivery known to fail, as reported in the ``failures`` of /send (Mia's shape)."""

    user_id: str
    channel: str
    error: str


def read_field(document: Mapping[str, Any], path: str) -> Any:
    """Read a possibly dotted field (``contacts.mail``) from a user document."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def delivery_id(dispatch_id: str, channel: str, user_id: str) -> str:
    """The deterministic id that makes a user reached twice (recipient and cluster) get one delivery."""
    return f"{dispatch_id}:{channel}:{user_id}"


def expired_field(address_field: str) -> str:
    """Where a user's address reported gone is recorded: beside it, ``<field>Expired`` (see host.delivery)."""
    return f"{address_field}Expired"


def user_projection(fields: UserFields, channels: Iterable[Channel]) -> dict[str, int]:
    """Only the fields dispatch needs: id, the addresses of the requested channels and their expiries."""
    projection = {"_id": 1, fields.id: 1}
    for channel in channels:
        field = fields.field_for(channel.address_field)
        projection[field] = 1
        projection[expired_field(field)] = 1
    return projection


def user_filter(fields: UserFields, user_id: str) -> Doc:
    """The query that finds one user by its (mapped) id."""
    return {fields.id: {"$in": _id_values(fields, [user_id])}}


async def find_users(store: Store, ids: Sequence[str], projection: Mapping[str, int]) -> dict[str, Doc]:
    """The users with these ids (on the mapped id field), keyed by id; unknown ids are absent."""
    found: dict[str, Doc] = {}
    query = _id_values(store.fields, ids)
    async for user in store.users.find({store.fields.id: {"$in": query}}, dict(projection)):
        found[str(read_field(user, store.fields.id))] = user
    return found


def _id_values(fields: UserFields, ids: Sequence[str]) -> list[Any]:
    if fields.id != "_id":
        return list(ids)
    # `_id` may be an ObjectId in collections filled by other tools: match both spellings
    from bson import ObjectId

    values: list[Any] = list(ids)
    values.extend(ObjectId(value) for value in ids if ObjectId.is_valid(value))
    return values


async def stream_cluster_users(
    store: Store,
    clusters: Sequence[str],
    projection: Mapping[str, int],
    *,
    after: Any = None,
    batch_size: int = 2000,
) -> AsyncIterator[list[Doc]]:
    """Users of any of the clusters, in `_id` order, a batch at a time, resuming after ``after``."""
    query: Doc = {store.fields.clusters: {"$in": list(clusters)}}
    if after is not None:
        query = {"$and": [query, {"_id": {"$gt": after}}]}
    cursor = store.users.find(query, dict(projection), batch_size=batch_size).sort("_id", 1)
    batch: list[Doc] = []
    async for user in cursor:
        batch.append(user)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _expired_message(channel: str, field: str, expired: Mapping[str, Any]) -> str:
    when = expired.get("at")
    date = f" on {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, datetime) else ""
    return (
        f"the {channel} address in {field} expired: the provider reported it gone{date} "
        f"({expired.get('code') or 'gone'}); it is skipped until the user's {field} changes"
    )


def plan_deliveries(
    dispatch_id: str,
    user_id: str,
    user: Mapping[str, Any] | None,
    channels: Sequence[tuple[str, Channel]],
    fields: UserFields,
    now: datetime,
) -> tuple[list[Doc], list[Failure]]:
    """The delivery documents for one user on every requested channel, and the failures known now."""
    deliveries: list[Doc] = []
    failures: list[Failure] = []
    for name, channel in channels:
        doc: Doc = {
            "_id": delivery_id(dispatch_id, name, user_id),
            "dispatch_id": dispatch_id,
            "channel": name,
            "user_id": user_id,
            "address": None,
            "status": "queued",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        problem: tuple[str, str, str] | None = None  # status, code, message
        if user is None:
            problem = ("skipped", "unknown-recipient", f"no user with id {user_id!r}")
        else:
            field = fields.field_for(channel.address_field)
            raw = read_field(user, field)
            if raw is None or raw == "" or raw == {}:
                problem = ("skipped", "no-address", f"user has no {channel.address_field} ({field})")
            else:
                try:
                    doc["address"] = channel.parse_address(raw)
                except InvalidAddress as exc:
                    problem = ("failed", exc.code or "invalid-address", exc.message)
                expired = read_field(user, expired_field(field))
                gone = isinstance(expired, Mapping) and expired.get("address") == doc["address"]
                if doc["address"] is not None and gone:
                    problem = ("skipped", "address-expired", _expired_message(name, field, expired))
        if problem is not None:
            status, code, message = problem
            doc["status"] = status
            doc["last_error"] = {"channel": name, "code": code, "message": message}
            failures.append(Failure(user_id=user_id, channel=name, error=message))
        deliveries.append(doc)
    return deliveries, failures
