"""The user directory: the one way the API and the console read, search, write and delete users.

Users are free-form documents addressed by the mapped id field (``userFields.id``), never by MongoDB's
own ``_id`` unless that is the mapped one; every other field is kept as it was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from host.audience.user_import import InvalidUser, UserUpserter, prepare_user
from host.audience.users import id_values, read_field, user_filter, write_field
from host.errors import NotFound, RequestError
from host.settings import UserFields
from host.storage.store import Store

__all__ = ["UserDirectory"]

Doc = dict[str, Any]


class UserDirectory:
    """The users collection of one store, as staff and API clients see it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.fields: UserFields = store.fields

    def _missing(self, user_id: str) -> NotFound:
        return NotFound(f"id: no user with {self.fields.id} {user_id!r}")

    def id_of(self, user: Mapping[str, Any]) -> str:
        """The user's id as the send API takes it."""
        return str(read_field(user, self.fields.id))

    async def get(self, user_id: str) -> Doc:
        """The whole user document; NotFound (404) naming the id field if there is none."""
        doc = await self._store.users.find_one(user_filter(self.fields, user_id))
        if doc is None:
            raise self._missing(user_id)
        return doc

    async def exists(self, user_id: str) -> bool:
        """Whether a user has this id."""
        return await self._store.users.find_one(user_filter(self.fields, user_id), {"_id": 1}) is not None

    async def find(self, who: str) -> Doc | None:
        """The user whose id, e-mail address or phone number is ``who`` (tried in that order)."""
        fields, users = self.fields, self._store.users
        user = await users.find_one({fields.id: {"$in": id_values(fields, [who])}})
        if user is None:
            user = await users.find_one({fields.email_address: who})
        if user is None:
            user = await users.find_one({fields.phone_number: who})
        return user

    def filter(
        self,
        *,
        cluster: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        id_prefix: str | None = None,
    ) -> Doc:
        """The query of the API's filters (exact address, cluster membership, id prefix), combined."""
        fields = self.fields
        conditions: list[Doc] = []
        if cluster is not None:
            conditions.append({fields.clusters: cluster})
        if email is not None:
            conditions.append({fields.email_address: email})
        if phone is not None:
            conditions.append({fields.phone_number: phone})
        if id_prefix:
            conditions.append({fields.id: {"$regex": "^" + re.escape(id_prefix)}})
        return conditions[0] if len(conditions) == 1 else {"$and": conditions} if conditions else {}

    def search_filter(self, text: str) -> Doc:
        """The console's search: the id, or an e-mail or phone prefix (ignoring case), or a cluster."""
        if not text:
            return {}
        fields = self.fields
        prefix = {"$regex": "^" + re.escape(text), "$options": "i"}
        return {
            "$or": [
                {fields.id: {"$in": id_values(fields, [text])}},
                {fields.email_address: prefix},
                {fields.phone_number: prefix},
                {fields.clusters: text},
            ]
        }

    def members_filter(self, cluster: str) -> Doc:
        """The users of a cluster (membership is the list of names on each user)."""
        return {self.fields.clusters: cluster}

    async def page(
        self, query: Mapping[str, Any], *, after: Any = None, skip: int = 0, limit: int
    ) -> list[Doc]:
        """Users matching ``query`` in ``_id`` order, after the ``_id`` ``after`` or skipping ``skip``."""
        criteria = dict(query)
        if after is not None:
            resume = {"_id": {"$gt": after}}
            criteria = {"$and": [criteria, resume]} if criteria else resume
        cursor = self._store.users.find(criteria).sort("_id", 1).skip(skip).limit(limit)
        return await cursor.to_list(None)

    async def count(self, query: Mapping[str, Any]) -> int:
        """How many users match (one indexed field per query: members of a cluster, say)."""
        return await self._store.users.count_documents(dict(query))

    async def put(self, user_id: str, record: Mapping[str, Any]) -> tuple[Doc, bool]:
        """Create or replace the user with this id; returns the stored document and whether it is new.

        The record is the whole user; its id field, when given, must be the id in the path.
        """
        fields = self.fields
        document = dict(record)
        try:
            if document.get(fields.id, user_id) != user_id and "." not in fields.id:
                raise InvalidUser(f"{fields.id}: {document[fields.id]!r} differs from the id in the path")
            write_field(document, fields.id, user_id)
            _, document = prepare_user(fields, document)
        except InvalidUser as exc:
            raise RequestError(str(exc)) from None
        users = self._store.users
        current = await users.find_one(user_filter(fields, user_id), {"_id": 1})
        if current is None:
            await users.insert_one(document)
            return document, True
        if fields.id == "_id":
            document["_id"] = current["_id"]
        await users.replace_one({"_id": current["_id"]}, document)
        return {**document, "_id": current["_id"]}, False

    async def delete(self, user_id: str) -> None:
        """Delete the user; deliveries already planned for it are kept (they name it by id)."""
        deleted = await self._store.users.delete_one(user_filter(self.fields, user_id))
        if deleted.deleted_count == 0:
            raise self._missing(user_id)

    def upserter(self, batch_size: int = 1000) -> UserUpserter:
        """A bulk upsert of records by their mapped id (host.audience.user_import)."""
        return UserUpserter(self._store.users, self.fields, batch_size=batch_size)
