"""Results of sent messages ride out a database that is away (host.delivery.outcomes, on tenacity).

The database is a real development database started late on a port the writer already points at, and
a port where nothing listens: the write waits with a doubling delay, and after its patience raises the
driver's own ConnectionFailure.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import ConnectionFailure

from host.delivery.outcomes import _write_patiently
from host.storage.devdb import DevDatabase
from tests.services import free_port
from tests.support.waiting import eventually

RETRYING = re.compile(r"database unreachable while recording results; retrying in ([\d.]+) s")


@pytest.fixture
async def away() -> AsyncIterator[tuple[int, AsyncMongoClient[dict[str, Any]]]]:
    """A port with no database on it yet, and a client pointed there that gives up a try quickly."""
    port = free_port()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=200, connectTimeoutMS=200
    )
    yield port, client
    await client.close()


def _doubling(count: int) -> list[float]:
    """0.2 s doubling, capped at 5 s: the policy of the result writes."""
    return [min(0.2 * 2**n, 5.0) for n in range(count)]


def _delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [float(m.group(1)) for r in caplog.records if (m := RETRYING.search(r.getMessage()))]


async def test_results_wait_for_the_database_to_come_back(
    away: tuple[int, AsyncMongoClient[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    port, client = away
    deliveries = client["results"]["deliveries"]
    result = UpdateOne({"_id": "d1"}, {"$set": {"status": "sent"}}, upsert=True)
    database = DevDatabase(port=port)
    with caplog.at_level(logging.WARNING, logger="host.delivery.worker"):
        write = asyncio.create_task(_write_patiently(deliveries, [result]))
        try:
            await eventually(
                lambda: bool(_delays(caplog)), timeout=20.0, what="a retry while the database is away"
            )
            await asyncio.to_thread(database.start)
            await asyncio.wait_for(write, timeout=60)
            assert await deliveries.find_one({"_id": "d1"}) == {"_id": "d1", "status": "sent"}
        finally:
            write.cancel()
            database.stop()
    delays = _delays(caplog)
    assert delays == _doubling(len(delays)), delays


async def test_results_give_up_with_the_drivers_error_after_their_patience(
    away: tuple[int, AsyncMongoClient[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    _, client = away
    result = UpdateOne({"_id": "d1"}, {"$set": {"status": "sent"}}, upsert=True)
    with caplog.at_level(logging.WARNING, logger="host.delivery.worker"), pytest.raises(ConnectionFailure):
        await _write_patiently(client["results"]["deliveries"], [result], patience=1.0)
    delays = _delays(caplog)
    assert delays and delays == _doubling(len(delays)), delays
    assert sum(delays) < 1.0  # no try starts after the patience
