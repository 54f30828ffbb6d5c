"""Counting the commands a client sends, through PyMongo's command monitoring: how many round trips a
piece of code made, without mocking the driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient, monitoring

__all__ = ["CommandCounter", "counted_client"]


class CommandCounter(monitoring.CommandListener):
    """Counts the commands named ``name`` (on ``collection``, when given) that the client sends."""

    def __init__(self, name: str, collection: str | None = None) -> None:
        self.name = name
        self.collection = collection
        self.sent = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == self.name and (
            self.collection is None or event.command.get(self.name) == self.collection
        ):
            self.sent += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@asynccontextmanager
async def counted_client(
    url: str, counter: CommandCounter
) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A client of its own to the database at ``url``, its commands counted by ``counter``; closed after."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, event_listeners=[counter])
    try:
        yield client
    finally:
        await client.close()
