"""Deferrals: deliveries held back in the database until a time (the end of a user's quiet hours).

Nothing waits in memory or in the broker: a deferred delivery stays ``queued`` with ``due_at`` and
``deferred_until`` set to the end of the window, and an entry in the small ``deferrals`` collection
holds its broker message (ids, channel, lane) until then. Each worker's scheduler loop
(host.dispatch.scheduling) releases the due entries: an entry is taken by deleting it (of several
workers exactly one deletes it), then handed to the broker through the outbox. A crash between the two
leaves ``queued`` deliveries whose due time has passed, which the recovery sweep hands out once the
enqueue lease has run out since that time. ``deferred`` in the dispatch counts is this state: ``queued``
with ``deferred_until`` still ahead (host.dispatch.views).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bson import ObjectId

from host.dispatch.outbox import Outbox, lanes_and_channels
from host.storage.store import Store

__all__ = ["Deferrals"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]


class Deferrals:
    """Holds deliveries until a time and releases them, each entry once across every worker."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self._store = store
        self._outbox = outbox

    async def hold(self, deliveries: Iterable[Mapping[str, Any]], until: datetime, now: datetime) -> int:
        """Defer these ``queued`` deliveries to ``until``; returns how many.

        The entry is written first: a crash before the deliveries are marked leaves them plain
        ``queued`` in a broker message that is handed out again, and deferred again then.
        """
        docs = list(deliveries)
        if not docs:
            return 0
        messages = [
            message
            for lane, ids_by_channel in lanes_and_channels(docs).items()
            for message in self._outbox.messages(ids_by_channel, lane=lane)
        ]
        await self._store.deferrals.insert_one(
            {"_id": ObjectId(), "due_at": until, "created_at": now, "messages": messages}
        )
        await self._store.deliveries.update_many(
            {"_id": {"$in": [doc["_id"] for doc in docs]}},
            {"$set": {"due_at": until, "deferred_until": until, "updated_at": now}},
        )
        return len(docs)

    async def release_due(self, now: datetime) -> tuple[int, datetime | None]:
        """Hand the entries due at ``now`` to the broker; returns how many deliveries, and the next due time.

        The collection holds one entry per deferred batch (not per delivery), so it is read whole,
        as the scheduler reads the ``scheduled`` dispatches.
        """
        released = 0
        next_due: datetime | None = None
        entries = await self._store.deferrals.find({}, {"due_at": 1}).to_list(None)
        for entry in sorted(entries, key=lambda e: e["due_at"]):
            if entry["due_at"] > now:
                next_due = entry["due_at"]
                break
            full = await self._store.deferrals.find_one_and_delete({"_id": entry["_id"]})
            if full is None:
                continue  # another worker released it
            await self._outbox.push_messages(full["messages"])
            released += sum(len(message["ids"]) for message in full["messages"])
        if released:
            log.info("released %d deliveries deferred for quiet hours", released)
        return released, next_due
