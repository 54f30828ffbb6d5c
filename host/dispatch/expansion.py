"""Expansion: a stored dispatch's audience turned into queued deliveries, resumably.

An audience of at most :data:`INLINE_AUDIENCE` users, clusters included, is expanded inside the request
(host.dispatch.accept), so its failures are in the answer, as in Mia; larger ones are expanded after
the answer by the fan-out actor, which records its progress on the dispatch and resumes where it
stopped. Whether clusters fit is one capped count on the indexed clusters field. Delivery ids are
deterministic, so running an expansion twice writes each delivery once. Every delivery carries its
dispatch's priority lane; a dispatch whose lane depends on the size of clusters too large to count in
the request gets it here, before any of their deliveries.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Container, Sequence
from typing import Any

from bson import DatetimeMS

from host.audience.opt_outs import OptOutLookup, OptOuts, opt_out_id
from host.audience.planning import ChannelRoute, DeliveryPlanner, Failure, PlannedBatch, channel_routes
from host.audience.suppressions import Suppressions
from host.audience.users import (
    read_field,
    stream_cluster_users,
    user_projection,
)
from host.dispatch.outbox import Outbox
from host.dispatch.writes import DispatchWrites, FanoutProgress, ListedSend
from host.plugins.channel import Channel
from host.plugins.registry import ChannelRegistry
from host.settings import DEFAULT_LANE, Lane, LanePolicy, lane_of
from host.storage.documents import utcnow
from host.storage.store import Store
from host.templates.fields import opt_outs_apply

__all__ = [
    "FANOUT_BATCH",
    "FANOUT_WRITES",
    "INLINE_AUDIENCE",
    "INLINE_RECIPIENTS",
    "Expansion",
]

#: audiences (listed recipients plus cluster members) up to this size are expanded in the request;
#: larger ones by the fan-out actor
INLINE_AUDIENCE = 1000
#: recipients are looked up in chunks of this size
INLINE_RECIPIENTS = INLINE_AUDIENCE
#: users read, planned and written per batch of a fan-out (5,000 against 2,000: a 1,000,000-user cluster
#: 47k -> 51k deliveries/s, fewer round trips and broker pipelines a user; RSS +17 MB instead of +7)
FANOUT_BATCH = 5000
#: batches of a fan-out written at the same time
FANOUT_WRITES = 3

Doc = dict[str, Any]


class Expansion:
    """Plans and writes the deliveries of dispatches, grouped across concurrent requests."""

    def __init__(
        self,
        store: Store,
        registry: ChannelRegistry,
        outbox: Outbox,
        opt_outs: OptOuts,
        suppressions: Suppressions | None = None,
        lanes: LanePolicy | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._outbox = outbox
        self._opt_outs = opt_outs
        self._suppressions = suppressions or Suppressions(store)
        self._writes = DispatchWrites(store, outbox, opt_outs, self._suppressions)
        self.lanes = lanes or LanePolicy()
        #: by the channels of a listed send: their planner routes and the user fields they read
        self._listed_setups: dict[tuple[str, ...], tuple[tuple[ChannelRoute, ...], dict[str, int]]] = {}

    def insert_dispatch(self, doc: Doc) -> Awaitable[None]:
        """Store a new dispatch, grouped with concurrent requests' (host.dispatch.writes)."""
        return self._writes.insert_dispatch(doc)

    async def recipients_done(self, dispatch_id: str) -> None:
        """Record that the listed recipients are expanded (the clusters follow in the fan-out)."""
        await self._store.dispatches.update_one({"_id": dispatch_id}, {"$set": {"recipients_done": True}})

    async def mark_expanded(self, dispatch_id: str) -> None:
        await self._writes.mark_expanded(dispatch_id)

    async def record_lane(self, dispatch_id: str, lane: Lane) -> None:
        """Record the lane of a dispatch decided after it was stored (its clusters counted)."""
        await self._store.dispatches.update_one({"_id": dispatch_id}, {"$set": {"priority": lane}})

    async def _store_planned(
        self, planner: DeliveryPlanner, planned: PlannedBatch, lane: Lane, *, grouped: bool = True
    ) -> None:
        """Skip the batch's suppressed e-mails, insert its deliveries, then hand the queued ones over.

        No outbox entry first: the dispatch is still ``expanding`` and its progress is recorded only
        after this, so a crash in between is repaired by expanding again (the sweep restarts a stalled
        dispatch; ids are deterministic and claims make a second enqueue harmless). A request's few
        deliveries are grouped with other requests'; a fan-out's large batches go on their own, so
        that several can be in flight.
        """
        if not planned.docs:
            return
        await planner.skip_suppressed(planned)
        if grouped:
            await self._writes.insert_deliveries(planned.docs)
            await self._writes.hand_over((lane, planned.queued))
        else:
            await self._writes.insert_deliveries_now(planned.docs)
            await self._outbox.hand_over(planned.queued, lane=lane)

    async def cluster_members(self, clusters: Sequence[str], limit: int) -> int:
        """How many users the clusters have, counted up to ``limit``: one read on the indexed field.

        Ids of at most ``limit`` members are read, so a huge cluster costs what a small one does.
        (Not ``count_documents(limit=)``: the development database runs it as an aggregation that
        matches every member before it limits, measured 3x slower at 100k members and growing with
        the cluster.) Soft-deleted users are counted too: an upper bound, the filter stays on one field.
        """
        if limit <= 0 or not clusters:
            return 0
        query = {self._store.fields.clusters: {"$in": list(clusters)}}
        cursor = self._store.users.find(query, {"_id": 1}, batch_size=limit).limit(limit)
        return len(await cursor.to_list(None))

    async def clusters_fit(self, clusters: Sequence[str], room: int) -> bool:
        """Whether the clusters have at most ``room`` users (:meth:`cluster_members`, up to ``room + 1``)."""
        return room > 0 and await self.cluster_members(clusters, room + 1) <= room

    async def expand_clusters_now(
        self, dispatch: Doc, channels: Sequence[tuple[str, Channel]], priority: Lane = DEFAULT_LANE
    ) -> list[Failure]:
        """Expand a small dispatch's clusters inside the request, returning the failures found."""
        failures: list[Failure] = []
        await self._expand_clusters(dispatch, channels, priority, failures)
        return failures

    async def find_users(
        self, recipients: Sequence[str], channels: Sequence[tuple[str, Channel]]
    ) -> dict[str, Doc]:
        projection = user_projection(self._store.fields, [c for _, c in channels])
        return await self._writes.find_users((recipients, projection))

    def _opt_out_lookup(
        self, channels: Sequence[tuple[str, Channel]], category: str | None
    ) -> OptOutLookup | None:
        return self._opt_outs.fanout_lookup(
            (name for name, _ in channels), category, self._writes.find_opt_outs
        )

    async def look_up(
        self, recipients: Sequence[str], channels: Sequence[tuple[str, Channel]], category: str | None
    ) -> tuple[dict[str, Doc], Container[str]]:
        """A short recipients list's users and opt-outs, read at once: both need only the ids.

        For :meth:`expand_recipients` (its ``lookup``), started while the dispatch is being stored.
        """
        opt_outs = self._opt_out_lookup(channels, category)
        if opt_outs is None:
            return await self.find_users(recipients, channels), ()
        users, opted_out = await asyncio.gather(self.find_users(recipients, channels), opt_outs(recipients))
        return users, opted_out

    def send_listed(
        self, dispatch: Doc, recipients: Sequence[str], channels: Sequence[tuple[str, Channel]], lane: Lane
    ) -> Awaitable[list[Failure]]:
        """Store a dispatch to listed recipients only (at most :data:`INLINE_RECIPIENTS`) and expand it.

        One grouped job for every step (host.dispatch.writes, ``send_listed``); returns the failures.
        Raises what storing the dispatch raised, or ExpansionInterrupted once it is stored.
        """
        names = tuple(name for name, _ in channels)
        setup = self._listed_setups.get(names)
        fields, category = self._store.fields, dispatch.get("category")
        if setup is None:  # one per set of channels sent on (a few)
            projection = user_projection(fields, [c for _, c in channels])
            setup = self._listed_setups[names] = (channel_routes(channels, fields), projection)
        routes, projection = setup
        checked = opt_outs_apply(category)
        # the group looks the suppressions up for all its jobs at once (DispatchWrites._send_listed)
        lookup = self._suppressions.lookup(category)
        return self._writes.send_listed(
            ListedSend(
                dispatch,
                recipients,
                DeliveryPlanner(dispatch["_id"], channels, fields, None, lookup, lane, routes),
                projection,
                [opt_out_id(uid, name) for uid in recipients for name in names] if checked else [],
            )
        )

    async def expand_recipients(
        self,
        dispatch_id: str,
        recipients: Sequence[str],
        channels: Sequence[tuple[str, Channel]],
        lookup: Awaitable[tuple[dict[str, Doc], Container[str]]] | None = None,
        category: str | None = None,
        priority: Lane = DEFAULT_LANE,
    ) -> list[Failure]:
        """Write the deliveries of listed recipients; ``lookup`` (:meth:`look_up`) already read a list
        that fits one chunk."""
        opt_outs = self._opt_out_lookup(channels, category)
        suppressions = self._suppressions.lookup(category, self._writes.find_suppressions)
        planner = DeliveryPlanner(
            dispatch_id, channels, self._store.fields, opt_outs, suppressions=suppressions, priority=priority
        )
        failures: list[Failure] = []
        for start in range(0, len(recipients), INLINE_RECIPIENTS):
            chunk = recipients[start : start + INLINE_RECIPIENTS]
            if lookup is not None and len(recipients) <= INLINE_RECIPIENTS:
                found, opted_out = await lookup
                users = [(uid, found.get(uid)) for uid in chunk]
                planned = planner.plan(users, utcnow(), opted_out)
            else:
                found = await self.find_users(chunk, channels)
                planned = await planner.plan_batch([(uid, found.get(uid)) for uid in chunk], utcnow())
            await self._store_planned(planner, planned, priority)
            failures.extend(planned.failures)
        return failures

    async def expand(self, dispatch_id: str) -> None:
        """The fan-out: expand a stored dispatch's whole audience, resuming from its recorded progress."""
        dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
        if dispatch is None or dispatch["state"] == "expanded":
            return
        channels = [(name, self._registry[name]) for name in dispatch["channels"] if name in self._registry]
        priority = await self._lane_of(dispatch)
        if not dispatch.get("recipients_done"):
            await self.expand_recipients(
                dispatch_id,
                dispatch["recipients"],
                channels,
                category=dispatch.get("category"),
                priority=priority,
            )
            await self._store.dispatches.update_one(
                {"_id": dispatch_id}, {"$set": {"recipients_done": True, "heartbeat_at": utcnow()}}
            )
        if dispatch["clusters"]:
            await self._expand_clusters(dispatch, channels, priority)
        await self.mark_expanded(dispatch_id)

    async def _lane_of(self, dispatch: Doc) -> Lane:
        """The dispatch's lane; counted now (up to ``lanes.bulkAbove`` + 1 users) and recorded if unknown."""
        if dispatch.get("priority") is not None:
            return lane_of(dispatch)
        listed = len(dispatch["recipients"])
        members = await self.cluster_members(dispatch["clusters"], self.lanes.bulk_above + 1 - listed)
        lane = self.lanes.choose(None, dispatch.get("category"), listed + members, complete=True)
        assert lane is not None  # complete: every user is counted (up to the limit that decides)
        await self.record_lane(dispatch["_id"], lane)
        return lane

    async def _expand_clusters(
        self,
        dispatch: Doc,
        channels: Sequence[tuple[str, Channel]],
        priority: Lane,
        failures: list[Failure] | None = None,
    ) -> None:
        dispatch_id, fields = dispatch["_id"], self._store.fields
        after = dispatch.get("fanout_after")
        # users are streamed in the order of their (mapped) id, which decodes faster than an ObjectId
        # `_id`; progress recorded without a key was made in `_id` order
        key = dispatch.get("fanout_key") or ("_id" if after is not None else fields.id)
        batches = stream_cluster_users(
            self._store,
            dispatch["clusters"],
            user_projection(fields, [c for _, c in channels]),
            after=after,
            key=key,
            batch_size=FANOUT_BATCH,
        )
        category, names = dispatch.get("category"), [name for name, _ in channels]
        opt_outs = (
            self._opt_outs.fanout_lookup(names, category)
            if failures is not None  # in the request: a lookup of the few members, not the whole list
            else await self._opt_outs.fanout_lookup_once(names, category)
        )
        suppressions = self._suppressions.lookup(category)
        planner = DeliveryPlanner(
            dispatch_id, channels, fields, opt_outs, suppressions=suppressions, priority=priority
        )
        # up to FANOUT_WRITES batches are written while the next one is read and planned; progress is
        # taken in batch order, each after its own write, so it never passes a batch not written
        writing: deque[tuple[asyncio.Task[None], Any, int]] = deque()
        progress = FanoutProgress(self._store, dispatch_id, key)
        try:
            async for batch in batches:
                # a BSON datetime already: PyMongo encodes it ~0.2 µs faster than an aware datetime, twice
                # a delivery (~15% of the batch's encoding)
                now = DatetimeMS(utcnow())
                planned = await planner.plan_members(batch, now)
                if failures is not None:
                    await planner.skip_suppressed(planned)  # expanded in the request: in its answer
                    failures.extend(planned.failures)
                task = asyncio.create_task(self._store_planned(planner, planned, priority, grouped=False))
                writing.append((task, read_field(batch[-1], key), len(planned.docs)))
                if len(writing) >= FANOUT_WRITES:
                    await progress.written(*writing.popleft())
            while writing:
                await progress.written(*writing.popleft())
            await progress.record()
        finally:
            for task, _, _ in writing:
                task.cancel()
