"""The dispatch service's database and broker calls, grouped across concurrent send requests.

Each small /send stores a dispatch, looks up its recipients, inserts its deliveries, hands them to the
broker and marks the dispatch expanded. Under load, many requests do each step at the same moment: the
steps here run them as one insert, one ``find``, one enqueue per channel and one
``update_many`` for the whole group (host.storage.group_commit). A failure reaches only the requests it hit.

The commonest send, a short list of recipients and nothing else (:class:`ListedSend`), goes through all
the steps as one job (:attr:`DispatchWrites.send_listed`): a group of such sends moves through them
together, so the group is as large as the sends waiting for any step, not for one step of several, and
each request waits on one future. Its order differs from a fan-out's: the users and opt-outs are read,
the deliveries inserted, then the dispatch, already ``expanded``, and only then does the broker hear of
them. So no update marks it expanded afterwards (on the development database an update costs more than
an insert). Nothing is lost on the way: before the dispatch is stored, the request is not answered, and
the broker has not heard of its deliveries, so deliveries left by a crash in between (or by a refused
dispatch whose clean-up failed) are never sent: the recovery sweep's pass over deliveries queued past the
enqueue lease finds their dispatch missing and deletes them (host.dispatch.recovery), and a worker would
fail any it were handed (host.delivery.worker); once it is stored, its deliveries are stored ``queued``,
which the broker hears of at once, or from the outbox, or from the recovery sweep's pass over deliveries
queued past the enqueue lease. When a read or the deliveries' insert fails, the dispatch is stored
``expanding`` instead, as a fan-out's is, the caller gets :class:`ExpansionInterrupted`, and the recovery
sweep expands it again (as for any stalled dispatch).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from bson import DatetimeMS
from pymongo.errors import BulkWriteError

from host.audience.opt_outs import OptOuts
from host.audience.planning import DeliveryPlanner, Failure, PlannedBatch, skip_suppressed_together
from host.audience.suppressions import Suppressions
from host.audience.users import find_users
from host.dispatch.outbox import Outbox
from host.settings import Lane
from host.storage.documents import utcnow
from host.storage.duplicates import DUPLICATE_KEY, insert_at_once, insert_ignoring_duplicates
from host.storage.group_commit import GroupCommit
from host.storage.store import Store

__all__ = ["PROGRESS_SECONDS", "DispatchWrites", "ExpansionInterrupted", "FanoutProgress", "ListedSend"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
#: how often a fan-out records its progress (and heartbeat) on its dispatch
PROGRESS_SECONDS = 1.0


class ListedSend(NamedTuple):
    """A send to listed recipients only, few enough to expand in the request: one job of ``send_listed``."""

    dispatch: Doc
    recipients: Sequence[str]
    planner: DeliveryPlanner  # the dispatch's, in its lane
    projection: Mapping[str, int]  # the user fields its channels read
    opt_out_ids: Sequence[str]  # the opt-outs to look for (none when they do not apply)


class ExpansionInterrupted(Exception):
    """The dispatch is stored but its expansion stopped; ``failures`` are those already known."""

    def __init__(self, cause: BaseException, failures: list[Failure]) -> None:
        super().__init__(f"expansion interrupted: {cause!r}")
        self.__cause__ = cause
        self.failures = failures


def _errors_by_job(
    exc: BulkWriteError, sizes: Sequence[int], ignore_duplicates: bool
) -> list[Exception | None]:
    """Which jobs of a grouped insert failed: write errors are mapped back by document index."""
    starts, offset = [], 0
    for size in sizes:
        starts.append(offset)
        offset += size
    failed: list[Exception | None] = [None] * len(sizes)
    for error in exc.details.get("writeErrors", []):
        if ignore_duplicates and error.get("code") == DUPLICATE_KEY:
            continue
        index = int(error.get("index", 0))
        job = max(j for j, start in enumerate(starts) if start <= index)
        failed[job] = BulkWriteError({"writeErrors": [error], "nInserted": 0})
    return failed


class DispatchWrites:
    """Grouped writes of one Store and Outbox (so of one event loop)."""

    def __init__(
        self, store: Store, outbox: Outbox, opt_outs: OptOuts, suppressions: Suppressions | None = None
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._opt_outs = opt_outs
        self._suppressions = suppressions or Suppressions(store)
        self.insert_dispatch = GroupCommit[Doc, None](self._insert_dispatches, max_size=500)
        self.find_users = GroupCommit[tuple[Sequence[str], Mapping[str, int]], dict[str, Doc]](
            self._find_users, size=lambda job: len(job[0]), max_size=1000
        )
        self.find_opt_outs = GroupCommit[list[str], Container[str]](
            self._find_opt_outs, size=len, max_size=5000
        )
        self.find_suppressions = GroupCommit[list[str], dict[str, list[str]]](
            self._find_suppressions, size=len, max_size=5000
        )
        self.insert_deliveries = GroupCommit[list[Doc], None](
            self._insert_deliveries, size=len, max_size=5000
        )
        #: (lane, ids by channel): one enqueue per lane and channel for the whole group
        self.hand_over = GroupCommit[tuple[Lane, Mapping[str, Sequence[str]]], bool](
            self._hand_over, size=lambda job: sum(map(len, job[1].values())), max_size=5000
        )
        self.mark_expanded = GroupCommit[str, None](self._mark_expanded, max_size=500)
        #: every step of short listed sends, for the whole group (the module docstring)
        self.send_listed = GroupCommit[ListedSend, list[Failure]](
            self._send_listed, size=lambda job: len(job.recipients), max_size=1000
        )

    async def _insert_dispatches(self, docs: list[Doc]) -> list[BaseException | None]:
        try:
            await insert_at_once(self._store.dispatches, docs)
        except BulkWriteError as exc:
            return list(_errors_by_job(exc, [1] * len(docs), ignore_duplicates=False))
        return [None] * len(docs)

    async def _find_users(
        self, jobs: list[tuple[Sequence[str], Mapping[str, int]]]
    ) -> list[dict[str, Doc] | BaseException]:
        ids = list(dict.fromkeys(uid for wanted, _ in jobs for uid in wanted))
        projection: dict[str, int] = {}
        for _, fields in jobs:
            projection.update(fields)  # the union: a user read for one channel more is harmless
        found = await find_users(self._store, ids, projection)
        return [{uid: found[uid] for uid in wanted if uid in found} for wanted, _ in jobs]

    async def _find_opt_outs(self, jobs: list[list[str]]) -> list[Container[str] | BaseException]:
        found = await self._opt_outs.find(opt_out for job in jobs for opt_out in job)
        return [found.intersection(job) for job in jobs]

    async def _find_suppressions(self, jobs: list[list[str]]) -> list[dict[str, list[str]] | BaseException]:
        found = await self._suppressions.find(key for job in jobs for key in job)
        return [{key: found[key] for key in job if key in found} for job in jobs]

    async def insert_deliveries_now(self, docs: list[Doc]) -> None:
        """Insert one large batch of deliveries on its own (those a resumed expansion meets are fine)."""
        await insert_ignoring_duplicates(self._store.deliveries, docs)

    async def _insert_deliveries(
        self, jobs: list[list[Doc]], met: set[str] | None = None
    ) -> list[BaseException | None]:
        """The jobs' deliveries in one insert; the ids already stored are added to ``met``."""
        docs = [doc for job in jobs for doc in job]
        if not docs:
            return [None] * len(jobs)
        try:
            await insert_at_once(self._store.deliveries, docs)
        except BulkWriteError as exc:
            if met is not None:
                errors = exc.details.get("writeErrors", [])
                met.update(docs[e["index"]]["_id"] for e in errors if e.get("code") == DUPLICATE_KEY)
            # a resumed expansion meets the deliveries it wrote before: those are fine
            return list(_errors_by_job(exc, [len(job) for job in jobs], ignore_duplicates=True))
        return [None] * len(jobs)

    async def _hand_over(
        self, jobs: list[tuple[Lane, Mapping[str, Sequence[str]]]]
    ) -> list[bool | BaseException]:
        merged: dict[Lane, dict[str, list[str]]] = {}
        for lane, ids_by_channel in jobs:
            for channel, ids in ids_by_channel.items():
                merged.setdefault(lane, {}).setdefault(channel, []).extend(ids)
        handed = {lane: await self._outbox.hand_over(ids, lane=lane) for lane, ids in merged.items()}
        return [handed[lane] if ids_by_channel else True for lane, ids_by_channel in jobs]

    async def _mark_expanded(self, dispatch_ids: list[str]) -> list[BaseException | None]:
        await self._store.dispatches.update_many(
            {"_id": {"$in": dispatch_ids}}, {"$set": _expanded(utcnow())}
        )
        return [None] * len(dispatch_ids)

    async def _send_listed(self, jobs: list[ListedSend]) -> list[list[Failure] | BaseException]:
        ids = list(dict.fromkeys(uid for job in jobs for uid in job.recipients))
        projection: dict[str, int] = {}
        for job in jobs:
            projection.update(job.projection)
        opt_out_ids = [opt_out for job in jobs for opt_out in job.opt_out_ids]
        planned: list[PlannedBatch] = []
        try:
            found, opted_out = await asyncio.gather(
                find_users(self._store, ids, projection),
                self._opt_outs.find(opt_out_ids) if opt_out_ids else _nothing(),
            )
            # a BSON datetime: encoded ~0.4 µs faster than an aware one, twice a delivery
            planned_at = DatetimeMS(utcnow())
            for job in jobs:
                users = [(uid, found.get(uid)) for uid in job.recipients]
                planned.append(job.planner.plan(users, planned_at, opted_out))
            # the queued e-mails' suppressions: one read for the group (none while there are none)
            categories = [job.dispatch.get("category") for job in jobs]
            batches = list(zip([job.planner for job in jobs], planned, categories, strict=True))
            await skip_suppressed_together(batches, self._suppressions)
        except Exception as exc:  # nothing written yet: stored to be expanded by the recovery sweep
            return await self._stored_for_the_sweep(jobs, range(len(jobs)), exc)
        met: set[str] = set()  # deliveries already stored (a dispatch id met again): not this job's to delete
        try:
            written = await self._insert_deliveries([batch.docs for batch in planned], met)
        except Exception as exc:
            return await self._stored_for_the_sweep(jobs, range(len(jobs)), exc)
        outcomes: list[list[Failure] | BaseException] = [[] for _ in jobs]
        unwritten = [i for i, error in enumerate(written) if error is not None]
        if unwritten:  # some of their deliveries may be stored: the dispatch as it would be otherwise
            cause = next(error for error in written if error is not None)
            swept = await self._stored_for_the_sweep(jobs, unwritten, cause)
            for i, outcome in zip(unwritten, swept, strict=True):
                outcomes[i] = outcome
        live = [i for i, error in enumerate(written) if error is None]
        # every delivery of these is stored: their dispatches are stored expanded, and only then handed
        # over (a worker needs the dispatch), so there is no `mark expanded` update to make
        now = utcnow()
        docs = [{**jobs[i].dispatch, **_expanded(now)} for i in live]
        stored = await self._insert_dispatches(docs)  # raises for all when nothing is known to be stored
        refused = [i for i, error in zip(live, stored, strict=True) if error is not None]
        for i, error in zip(live, stored, strict=True):
            if error is not None:
                outcomes[i] = error
        await self._forget_deliveries([doc["_id"] for i in refused for doc in planned[i].docs], met)
        live = [i for i, error in zip(live, stored, strict=True) if error is None]
        try:
            await self._hand_over([(jobs[i].planner.priority, planned[i].queued) for i in live])
        except Exception:
            # broker and outbox both failed: the deliveries are stored `queued`, and the recovery sweep
            # hands out those left queued past the enqueue lease
            log.warning("deliveries stored but not handed over; the recovery sweep will", exc_info=True)
        for i in live:
            outcomes[i] = planned[i].failures
        return outcomes

    async def _stored_for_the_sweep(
        self, jobs: Sequence[ListedSend], which: Sequence[int], cause: BaseException
    ) -> list[list[Failure] | BaseException]:
        """Store these jobs' dispatches ``expanding`` (as given) after their expansion failed: the recovery
        sweep expands them again (deliveries already stored are met as duplicates); raises what storing
        raised for every one of them."""
        stored = await self._insert_dispatches([jobs[i].dispatch for i in which])
        return [error or ExpansionInterrupted(cause, []) for error in stored]

    async def _forget_deliveries(self, ids: Sequence[str], met: set[str]) -> None:
        """Delete the deliveries this job inserted for dispatches the database refused (best effort: a
        delivery whose dispatch does not exist is never sent, the recovery sweep deletes it later)."""
        orphans = [delivery_id for delivery_id in ids if delivery_id not in met]
        if orphans:
            try:
                await self._store.deliveries.delete_many({"_id": {"$in": orphans}})
            except Exception:
                log.warning(
                    "could not delete %d deliveries of refused dispatches", len(orphans), exc_info=True
                )


def _expanded(now: datetime) -> Doc:
    """The fields of a dispatch whose deliveries are all written (stored so, or set by an update)."""
    return {"state": "expanded", "expanded_at": now}


async def _nothing() -> frozenset[str]:
    return frozenset()


class FanoutProgress:
    """A fan-out's progress (last user written, count, heartbeat) recorded every :data:`PROGRESS_SECONDS`.

    One update per batch (of 2,000 then) cost the development database ~1 µs of CPU per delivery. A crash
    loses the batches written since the last record: the resumed expansion writes them again, each once
    (ids).
    """

    def __init__(
        self, store: Store, dispatch_id: str, key: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._dispatch_id = dispatch_id
        self._key = key
        self._clock = clock
        self._after: Any = None
        self._count = 0
        self._since = clock()

    async def written(self, write: asyncio.Task[None], after: Any, count: int) -> None:
        """Wait for a batch's write; record the progress if it is due."""
        await write
        self._after = after
        self._count += count
        if self._clock() - self._since >= PROGRESS_SECONDS:
            await self.record()

    async def record(self) -> None:
        """Record the progress taken since the last record (nothing if none)."""
        if self._after is None:
            return
        after, count, self._after, self._count = self._after, self._count, None, 0
        self._since = self._clock()
        await self._store.dispatches.update_one(
            {"_id": self._dispatch_id},
            {
                "$set": {"fanout_after": after, "fanout_key": self._key, "heartbeat_at": utcnow()},
                "$inc": {"expanded_count": count},
            },
        )
