"""Inserting as claiming: a duplicate key means "already there" (someone else's claim), nothing worse.

Claims, events, webhook records and deliveries are inserted with ``insert_many(..., ordered=False)``; the
duplicate-key errors among the results tell which documents existed already (NOTES: the development
database reports exactly one per such document). Any other write error is a real failure and raises.
A fan-out's batches of deliveries, which need no such answer, go as one ``insert`` command
(:func:`insert_ignoring_duplicates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DocumentTooLarge

__all__ = ["DUPLICATE_KEY", "duplicate_indexes", "insert_ignoring_duplicates", "insert_missing"]

#: MongoDB's error code for a duplicate key
DUPLICATE_KEY = 11000

Doc = dict[str, Any]


def duplicate_indexes(exc: BulkWriteError) -> set[int]:
    """The positions of the documents that existed already; re-raises ``exc`` on any other error."""
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise exc
    return {int(error["index"]) for error in errors}


async def insert_missing(collection: AsyncCollection[Doc], docs: Sequence[Doc]) -> list[Doc]:
    """Insert what is not there yet; returns the documents that were inserted (in order)."""
    if not docs:
        return []
    try:
        await collection.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        existing = duplicate_indexes(exc)
        return [doc for index, doc in enumerate(docs) if index not in existing]
    return list(docs)


async def insert_ignoring_duplicates(collection: AsyncCollection[Doc], docs: list[Doc]) -> None:
    """Insert the documents, those already there left as they are; any other write error raises.

    One ``insert`` command, encoded by the BSON extension in one call: ``insert_many`` spends Python on
    every document first (its bulk bookkeeping and type checks), ~1 µs of the fan-out's 6 a delivery.
    A batch over the server's size limit goes through ``insert_many``, which splits it.
    """
    command: dict[str, Any] = {"insert": collection.name, "documents": docs, "ordered": False}
    if not collection.write_concern.is_server_default:
        command["writeConcern"] = collection.write_concern.document
    try:
        result = await collection.database.command(command)
    except DocumentTooLarge:
        try:
            await collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            duplicate_indexes(exc)
        return
    errors = [error for error in result.get("writeErrors", ()) if error.get("code") != DUPLICATE_KEY]
    if errors or "writeConcernError" in result:
        concern = [result["writeConcernError"]] if "writeConcernError" in result else []
        details = {"writeErrors": errors, "writeConcernErrors": concern, "nInserted": result.get("n", 0)}
        raise BulkWriteError(details)
