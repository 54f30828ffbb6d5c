"""Finding a user document for the console by its mapped id, e-mail address or phone number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import ObjectId

from host.audience.users import read_field
from host.storage.store import Store

__all__ = ["find_user", "id_values", "user_id_of"]


def id_values(store: Store, value: str) -> list[Any]:
    """The spellings of an id on the mapped id field (``_id`` may hold ObjectIds)."""
    values: list[Any] = [value]
    if store.fields.id == "_id" and ObjectId.is_valid(value):
        values.append(ObjectId(value))
    return values


async def find_user(store: Store, who: str) -> dict[str, Any] | None:
    """The user whose id, e-mail address or phone number is ``who`` (tried in that order)."""
    user = await store.users.find_one({store.fields.id: {"$in": id_values(store, who)}})
    if user is None:
        user = await store.users.find_one({store.fields.email_address: who})
    if user is None:
        user = await store.users.find_one({store.fields.phone_number: who})
    return user


def user_id_of(store: Store, user: Mapping[str, Any]) -> str:
    """The user's id as the send API takes it."""
    return str(read_field(user, store.fields.id))
