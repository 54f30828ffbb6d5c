"""Inserting as claiming: a duplicate key means "already there" (someone else's claim), nothing worse.

Claims, events, webhook records, dispatches and deliveries are inserted unordered (every document tried),
as one ``insert`` command (:func:`insert_at_once`, which answers as ``insert_many(..., ordered=False)``
does, with less Python on the way); the duplicate-key errors among the results tell which documents
existed already (NOTES: the development database reports exactly one per such document). Any other write
error is a real failure and raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DocumentTooLarge

__all__ = [
    "DUPLICATE_KEY",
    "duplicate_indexes",
    "insert_at_once",
    "insert_ignoring_duplicates",
    "insert_missing",
]

#: MongoDB's error code for a duplicate key
DUPLICATE_KEY = 11000
#: the most documents one write command takes (MongoDB's ``maxWriteBatchSize``)
_MAX_WRITE_BATCH = 100_000

Doc = dict[str, Any]


def duplicate_indexes(exc: BulkWriteError) -> set[int]:
    """The positions of the documents that existed already; re-raises ``exc`` on any other error (a write
    concern's included)."""
    errors = exc.details.get("writeErrors", [])
    if exc.details.get("writeConcernErrors") or any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise exc
    return {int(error["index"]) for error in errors}


async def insert_at_once(collection: AsyncCollection[Doc], docs: list[Doc]) -> None:
    """``insert_many(docs, ordered=False)`` as one ``insert`` command: every document is tried, and the
    write errors raise one BulkWriteError with the details ``insert_many`` gives (``writeErrors`` with
    each failed document's index, ``writeConcernErrors``, ``nInserted``).

    ``insert_many`` spends Python on every document first (its bulk bookkeeping and type checks): the
    command, encoded by the BSON extension in one call, cost 80-120 µs less a call for 25 documents (a
    group of /send's dispatches or deliveries) and ~1 µs less a document in a fan-out's batches. A batch
    over the server's size or count limit goes through ``insert_many``, which splits it. A document without an
    ``_id`` gets one, as with ``insert_many``.
    """
    if not docs:
        return
    for doc in docs:
        if "_id" not in doc:
            doc["_id"] = ObjectId()
    command: dict[str, Any] = {"insert": collection.name, "documents": docs, "ordered": False}
    if not collection.write_concern.is_server_default:
        command["writeConcern"] = collection.write_concern.document
    if len(docs) > _MAX_WRITE_BATCH:
        await collection.insert_many(docs, ordered=False)
        return
    try:
        result = await collection.database.command(command, codec_options=collection.codec_options)
    except DocumentTooLarge:
        await collection.insert_many(docs, ordered=False)
        return
    errors = result.get("writeErrors") or []
    concern = [result["writeConcernError"]] if "writeConcernError" in result else []
    if errors or concern:
        raise BulkWriteError(
            {"writeErrors": errors, "writeConcernErrors": concern, "nInserted": result.get("n", 0)}
        )


async def insert_missing(collection: AsyncCollection[Doc], docs: Sequence[Doc]) -> list[Doc]:
    """Insert what is not there yet; returns the documents that were inserted (in order)."""
    if not docs:
        return []
    try:
        await insert_at_once(collection, list(docs))
    except BulkWriteError as exc:
        existing = duplicate_indexes(exc)
        return [doc for index, doc in enumerate(docs) if index not in existing]
    return list(docs)


async def insert_ignoring_duplicates(collection: AsyncCollection[Doc], docs: list[Doc]) -> None:
    """Insert the documents, those already there left as they are; any other write error raises."""
    try:
        await insert_at_once(collection, docs)
    except BulkWriteError as exc:
        duplicate_indexes(exc)
