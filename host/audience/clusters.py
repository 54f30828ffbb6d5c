"""The cluster service: named groups of users, with their member counts, for the API and the console.

Membership lives on the users (their mapped ``clusters`` field, SPEC §1); a cluster document gives the
group a description so staff can see and manage it. Deleting one leaves the users' lists alone, so
sending to the name still works.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

from host.audience.directory import UserDirectory
from host.errors import NotFound, RequestError
from host.storage.documents import utcnow
from host.storage.queries import name_query
from host.storage.store import Store

__all__ = ["ClusterService"]

Doc = dict[str, Any]


class ClusterService:
    """Clusters of one store; each one read with its member count."""

    def __init__(self, store: Store, users: UserDirectory) -> None:
        self._store = store
        self._users = users

    async def members(self, cluster: Doc) -> int:
        """How many users list the cluster now (one count on the indexed clusters field)."""
        return await self._users.count(self._users.members_filter(cluster["name"]))

    async def get(self, name: str) -> Doc:
        """The cluster named so; NotFound (404) if none."""
        doc = await self._store.clusters.find_one({"name": name})
        if doc is None:
            raise NotFound(f"name: no cluster named {name!r}")
        return doc

    async def search(
        self, search: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[Doc]:
        """Clusters in name order; ``search`` matches any part of the name, ignoring case."""
        cursor = self._store.clusters.find(name_query(search, after)).sort("name", 1).limit(limit)
        return await cursor.to_list(None)

    async def create(self, name: str, description: str = "") -> Doc:
        """A new cluster; 409 if the name is taken. Users already listing the name are members at once."""
        duplicate = RequestError(f"name: a cluster named {name!r} already exists", status_code=409)
        if await self._store.clusters.find_one({"name": name}, {"_id": 1}) is not None:
            raise duplicate
        doc = {"name": name, "description": description, "created_at": utcnow()}
        try:
            await self._store.clusters.insert_one(doc)
        except DuplicateKeyError:
            raise duplicate from None
        return doc

    async def describe(self, name: str, description: str) -> Doc:
        """Change the description (the name is the cluster's identity on every member)."""
        doc = await self.get(name)
        await self._store.clusters.update_one({"_id": doc["_id"]}, {"$set": {"description": description}})
        return {**doc, "description": description}

    async def delete(self, name: str) -> None:
        """Remove the cluster document; users keep the name in their list."""
        doc = await self.get(name)
        await self._store.clusters.delete_one({"_id": doc["_id"]})
