"""The database handle used on the hot path: raw PyMongo collections of one async client.

Beanie binds its document classes to one client per process; workers run on their own event loop,
so the dispatch and delivery code talks to PyMongo directly through a Store created on its loop.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from host.settings import Settings, UserFields
from host.storage.documents import Attempt, Cluster, Delivery, Dispatch, Template

__all__ = ["DEFERRALS_COLLECTION", "OUTBOX_COLLECTION", "Store", "open_client"]

OUTBOX_COLLECTION = "outbox"
#: batches held back until a time, e.g. the end of quiet hours (host.dispatch.deferrals)
DEFERRALS_COLLECTION = "deferrals"

log = logging.getLogger(__name__)

Doc = dict[str, Any]


def open_client(url: str) -> AsyncMongoClient[Doc]:
    """An async client with timeouts short enough that a restarted database is noticed quickly."""
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        connectTimeoutMS=5_000,
        retryWrites=False,  # the development database has no sessions; retryable writes need them
    )


class Store:
    """The collections of one database, bound to the event loop that created the client."""

    def __init__(self, client: AsyncMongoClient[Doc], settings: Settings) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[settings.env.mongodb_database]
        self.fields: UserFields = settings.config.user_fields
        self.users: AsyncCollection[Doc] = self.db[settings.env.users_collection]
        self.templates: AsyncCollection[Doc] = self.db[Template.Settings.name]
        self.clusters: AsyncCollection[Doc] = self.db[Cluster.Settings.name]
        self.dispatches: AsyncCollection[Doc] = self.db[Dispatch.Settings.name]
        self.deliveries: AsyncCollection[Doc] = self.db[Delivery.Settings.name]
        self.attempts: AsyncCollection[Doc] = self.db[Attempt.Settings.name]
        self.outbox: AsyncCollection[Doc] = self.db[OUTBOX_COLLECTION]
        self.deferrals: AsyncCollection[Doc] = self.db[DEFERRALS_COLLECTION]

    @classmethod
    def connect(cls, settings: Settings) -> Store:
        """Create a client for the configured database (the caller's loop owns it)."""
        if not settings.env.mongodb_url:
            from host.errors import ConfigurationError

            raise ConfigurationError("MONGODB_URL", "environment variable is not set")
        return cls(open_client(settings.env.mongodb_url), settings)

    async def ensure_user_indexes(self) -> None:
        """Index the mapped user id and clusters fields: every audience query filters on one of them."""
        if self.fields.id != "_id":
            try:
                # unique: a user id names one user, and the development database only uses unique
                # single-field indexes (a non-unique one is scanned like no index at all)
                await self.users.create_index(self.fields.id, unique=True)
            except OperationFailure as exc:
                log.warning(
                    "users.%s holds duplicate ids, so its index cannot be unique: %s", self.fields.id, exc
                )
                await self.users.create_index(self.fields.id)
        await self.users.create_index(self.fields.clusters)

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        await self.db.command("ping")

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()
