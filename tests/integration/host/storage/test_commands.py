"""One-command reads and inserts (host.storage.queries.find_at_once, host.storage.duplicates.insert_at_once)
answer as the driver's ``find(...).to_list()`` and ``insert_many(..., ordered=False)`` do, compared on the
same documents on the development database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from host.storage.devdb import DevDatabase
from host.storage.duplicates import DUPLICATE_KEY, insert_at_once, insert_ignoring_duplicates, insert_missing
from host.storage.queries import find_at_once
from host.storage.store import open_client

Doc = dict[str, Any]


@pytest.fixture
async def db(devdb: DevDatabase, unique: Callable[[str], str]) -> AsyncIterator[AsyncDatabase[Doc]]:
    client = open_client(devdb.url)  # as the service opens it: tz-aware datetimes
    try:
        yield client[unique("commands").replace("-", "_")]
    finally:
        await client.close()


def _batch() -> list[Doc]:
    """Three new documents, one already stored (id 1), one twice in the batch (id 7), one clashing on the
    unique ``key`` of a stored one."""
    return [
        {"_id": 5, "key": "e"},
        {"_id": 1, "key": "a2"},
        {"_id": 7, "key": "g"},
        {"_id": 7, "key": "g2"},
        {"_id": 8, "key": "a"},
        {"_id": 9, "key": "i"},
    ]


def _errors(exc: BulkWriteError) -> list[tuple[int, int]]:
    return [(error["index"], error["code"]) for error in exc.details["writeErrors"]]


async def test_insert_at_once_fails_the_documents_insert_many_fails_and_stores_the_rest(
    db: AsyncDatabase[Doc],
) -> None:
    outcomes = []
    for name, insert in (("driver", None), ("command", insert_at_once)):
        collection = db[name]
        await collection.create_index("key", unique=True)
        await collection.insert_one({"_id": 1, "key": "a"})
        with pytest.raises(BulkWriteError) as raised:
            if insert is None:
                await collection.insert_many(_batch(), ordered=False)
            else:
                await insert(collection, _batch())
        stored = await collection.find({}).sort("_id", 1).to_list(None)
        outcomes.append((_errors(raised.value), raised.value.details["nInserted"], stored))
    assert outcomes[0] == outcomes[1]
    errors, _, stored = outcomes[1]  # nInserted: the development database counts all 6 either way
    assert errors == [(1, DUPLICATE_KEY), (3, DUPLICATE_KEY), (4, DUPLICATE_KEY)]
    assert [doc["_id"] for doc in stored] == [1, 5, 7, 9]


async def test_insert_at_once_gives_an_id_to_a_document_without_one_and_keeps_aware_datetimes(
    db: AsyncDatabase[Doc],
) -> None:
    when = datetime(2026, 12, 3, 14, 30, 15, 123000, tzinfo=UTC)
    docs: list[Doc] = [{"n": 1, "at": when}, {"_id": "mine", "n": 2, "at": when}]
    await insert_at_once(db.ids, docs)
    assert docs[1]["_id"] == "mine"
    stored = {doc["_id"]: doc for doc in await db.ids.find({}).to_list(None)}
    assert set(stored) == {docs[0]["_id"], "mine"}  # the id given is the one stored
    assert stored["mine"]["at"] == when and stored["mine"]["at"].tzinfo is not None


async def test_the_claims_helpers_tell_existing_documents_apart_through_the_command(
    db: AsyncDatabase[Doc],
) -> None:
    await db.claims.insert_one({"_id": "a:1"})
    taken = await insert_missing(db.claims, [{"_id": "a:1"}, {"_id": "b:1"}])
    assert [doc["_id"] for doc in taken] == ["b:1"]
    await insert_ignoring_duplicates(db.claims, [{"_id": "b:1"}, {"_id": "c:1"}])  # b:1 there: fine
    assert await db.claims.count_documents({}) == 3


async def test_find_at_once_reads_what_the_drivers_cursor_reads(db: AsyncDatabase[Doc]) -> None:
    when = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    await db.users.insert_many(
        [{"_id": f"U{i}", "mail": f"u{i}@example.test", "at": when, "n": i} for i in range(300)]
    )
    wanted = [f"U{i}" for i in range(0, 300, 2)] + ["nobody"]
    query, projection = {"_id": {"$in": wanted}}, {"mail": 1, "at": 1}
    by_driver = await db.users.find(query, projection).to_list(None)
    by_command = await find_at_once(db.users, query, projection)
    assert sorted(by_command, key=lambda doc: doc["_id"]) == sorted(by_driver, key=lambda doc: doc["_id"])
    assert len(by_command) == 150  # more than the driver's first batch of 101
    assert set(by_command[0]) == {"_id", "mail", "at"} and by_command[0]["at"].tzinfo is not None
    assert await find_at_once(db.users, {"_id": {"$in": ["nobody"]}}) == []
