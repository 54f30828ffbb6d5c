"""The outbox: delivery batches are written down before they are handed to the broker.

An entry is inserted first, the broker messages are sent, then the entry is deleted. An entry that
outlives its grace period (the broker was down, the process died) is sent again by the recovery sweep;
the claim on each attempt makes a batch handed out twice send nothing twice. Batches that another
durable record already covers (a dispatch being expanded) are only written down when the broker refuses
them (``hand_over``). Every message names its priority lane (host.settings.lanes), so a batch handed
out again, retried or released after quiet hours goes back to its own lane's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bson import ObjectId

from host.settings import DEFAULT_LANE, Lane, lane_of
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = ["Batch", "Enqueue", "EnqueueMany", "Outbox", "lanes_and_channels"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: hands one batch of delivery ids of a channel to the broker: (channel, ids, delay in ms, lane)
Enqueue = Callable[[str, list[str], int, Lane], None]
#: one batch as :data:`Enqueue` takes it: (channel, ids, delay in ms, lane)
Batch = tuple[str, list[str], int, Lane]
#: hands several batches to the broker at once (one round trip); raises if the broker refused
EnqueueMany = Callable[[Sequence[Batch]], None]


def lanes_and_channels(docs: Iterable[Mapping[str, Any]]) -> dict[Lane, dict[str, list[str]]]:
    """Delivery ids grouped by lane, then channel: how deliveries of mixed lanes are handed over."""
    grouped: dict[Lane, dict[str, list[str]]] = {}
    for doc in docs:
        grouped.setdefault(lane_of(doc), {}).setdefault(doc["channel"], []).append(doc["_id"])
    return grouped


class Outbox:
    """Durable hand-over of delivery batches from the database to the broker."""

    def __init__(
        self,
        store: Store,
        enqueue: Enqueue,
        batch_sizes: Mapping[str, int],
        enqueue_many: EnqueueMany | None = None,
    ) -> None:
        self._store = store
        self._enqueue = enqueue
        #: the messages of one hand-over at once (one broker round trip) when given, else one by one
        self._enqueue_many = enqueue_many or self._one_by_one
        self._batch_sizes = batch_sizes

    def _one_by_one(self, batches: Sequence[Batch]) -> None:
        for batch in batches:
            self._enqueue(*batch)

    def messages(
        self, ids_by_channel: Mapping[str, Sequence[str]], delay_ms: int = 0, lane: Lane = DEFAULT_LANE
    ) -> list[dict[str, Any]]:
        """The broker messages of these ids: batches of each channel's size, in ``lane``."""
        messages = []
        for channel, ids in ids_by_channel.items():
            size = self._batch_sizes.get(channel, 50)
            for start in range(0, len(ids), size):
                batch = list(ids[start : start + size])
                messages.append({"channel": channel, "ids": batch, "delay": delay_ms, "lane": lane})
        return messages

    async def push(
        self,
        ids_by_channel: Mapping[str, Sequence[str]],
        *,
        delay_ms: int = 0,
        lane: Lane = DEFAULT_LANE,
        write: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Record the batches, run ``write`` (the deliveries' insert), then enqueue.

        Returns False when the broker refused; the entry stays for the recovery sweep. Writing the entry
        before the deliveries means no crash can leave a delivery in the database that nobody enqueues.
        """
        return await self.push_messages(self.messages(ids_by_channel, delay_ms, lane), write=write)

    async def push_deliveries(self, docs: Iterable[Mapping[str, Any]], *, delay_ms: int = 0) -> bool:
        """:meth:`push` deliveries of any channels and lanes, each to its own lane's queue."""
        messages = [
            message
            for lane, ids_by_channel in lanes_and_channels(docs).items()
            for message in self.messages(ids_by_channel, delay_ms, lane)
        ]
        return await self.push_messages(messages)

    async def push_messages(
        self, messages: list[dict[str, Any]], *, write: Callable[[], Awaitable[None]] | None = None
    ) -> bool:
        """:meth:`push` of messages already made by :meth:`messages` (a deferral being released)."""
        if not messages:
            if write is not None:
                await write()
            return True
        entry_id = ObjectId()
        await self._store.outbox.insert_one({"_id": entry_id, "created_at": utcnow(), "messages": messages})
        if write is not None:
            await write()
        if not self._send(messages):
            return False
        await self._store.outbox.delete_one({"_id": entry_id})
        return True

    async def hand_over(
        self, ids_by_channel: Mapping[str, Sequence[str]], *, delay_ms: int = 0, lane: Lane = DEFAULT_LANE
    ) -> bool:
        """Enqueue batches whose owner already survives a crash; write them down only if the broker refuses.

        For deliveries of a dispatch still ``expanding``: a crash before the enqueue leaves the dispatch
        stalled, and the recovery sweep expands it again, so an entry written beforehand would add a
        round trip per batch and no safety. Returns False when the broker refused and the batches were
        recorded for the recovery sweep (an error writing them propagates: the owner is then retried).
        """
        messages = self.messages(ids_by_channel, delay_ms, lane)
        # in a thread: the event loop serves other requests during the broker's round trips
        if not messages or await _to_thread_to_the_end(self._send, messages):
            return True
        await self._store.outbox.insert_one({"_id": ObjectId(), "created_at": utcnow(), "messages": messages})
        return False

    def _send(self, messages: Sequence[Mapping[str, Any]]) -> bool:
        # entries written before lanes existed name no lane: they were normal
        batches = [
            (message["channel"], message["ids"], message["delay"], message.get("lane", DEFAULT_LANE))
            for message in messages
        ]
        try:
            self._enqueue_many(batches)
        except Exception:
            log.warning("broker refused a batch; the outbox keeps it for the recovery sweep", exc_info=True)
            return False
        return True

    async def flush_stale(self, grace_seconds: float, *, now: datetime | None = None) -> int:
        """Send again every entry older than the grace period; returns how many were handed over."""
        cutoff = (now or utcnow()) - timedelta(seconds=grace_seconds)
        flushed = 0
        async for entry in self._store.outbox.find({"created_at": {"$lt": cutoff}}):
            if not self._send(entry["messages"]):
                break
            await self._store.outbox.delete_one({"_id": entry["_id"]})
            flushed += 1
        return flushed


async def _to_thread_to_the_end(func: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread``, whose caller, if cancelled meanwhile, waits for the thread before its
    cancellation goes on: no enqueue outlives its caller (a fan-out stopped, a runtime closing its broker
    right after, which the thread would open a new connection to)."""
    running = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        while not running.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({running})
        raise
