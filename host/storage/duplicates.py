"""Inserting as claiming: a duplicate key means "already there" (someone else's claim), nothing worse.

Claims, events, webhook records and deliveries are inserted with ``insert_many(..., ordered=False)``; the
duplicate-key errors among the results tell which documents existed already (NOTES: the development
database reports exactly one per such document). Any other write error is a real failure and raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

__all__ = ["DUPLICATE_KEY", "duplicate_indexes", "insert_missing"]

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
