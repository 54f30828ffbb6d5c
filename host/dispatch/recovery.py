"""The recovery sweep: finishes whatever a crash, a broker outage or a lost message left undone.

It runs off the hot path, every few seconds, and only reads small sets: outbox entries that were never
confirmed, dispatches whose fan-out stopped, deliveries stuck in ``sending`` past their lease, and (less
often) deliveries ``queued`` for longer than the enqueue lease, whose broker message may be lost.

Among those queued ones, the deliveries whose dispatch does not exist are orphans of a listed /send that
stopped between its two inserts (host.dispatch.writes stores the deliveries first): a crash, or a refused
dispatch whose deliveries could not be deleted again. That send was never answered, so nothing accepted
is lost by deleting them; handed out, a worker would only fail them ("dispatch ... no longer exists"),
failed deliveries of a dispatch no one can see. They are looked up with one ``$in`` on
``dispatches._id`` per batch (one indexed field, as the development database needs) and deleted. Only
deliveries queued past the enqueue lease (15 minutes by default) are judged, so a send still between its
two inserts is never taken for one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from pymongo import UpdateOne

from host.dispatch.outbox import Outbox
from host.settings import DeliveryPolicy
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = ["RecoverySweep", "SweepReport"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]

#: outbox entries younger than this may still be on their way to the broker
OUTBOX_GRACE_SECONDS = 10.0
#: a fan-out that has not reported progress for this long has stopped
FANOUT_STALL_SECONDS = 60.0
#: dispatch ids looked up per ``$in`` when telling orphaned deliveries from those to hand out
ORPHAN_BATCH = 1000


class SweepReport(msgspec.Struct, kw_only=True):
    """What one sweep handed out again, and the orphaned deliveries it deleted."""

    outbox_entries: int = 0
    dispatches: int = 0
    deliveries: int = 0
    orphans: int = 0  # queued deliveries whose dispatch was never stored: deleted, not handed out


class RecoverySweep:
    """Re-enqueues what the database says is unfinished."""

    def __init__(
        self, store: Store, outbox: Outbox, schedule_expansion: Callable[[str], None], policy: DeliveryPolicy
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._schedule_expansion = schedule_expansion
        self._policy = policy
        self._passes = 0

    async def run_once(
        self,
        *,
        outbox_grace: float = OUTBOX_GRACE_SECONDS,
        queued_older_than: float | None = None,
        fanout_stall: float = FANOUT_STALL_SECONDS,
        now: datetime | None = None,
    ) -> SweepReport:
        """One pass; ``queued_older_than`` (seconds) also re-enqueues deliveries left ``queued`` that long.

        ``now`` (default: the clock) is the time the grace periods and leases are measured from.
        """
        now = now or utcnow()
        report = SweepReport(outbox_entries=await self._outbox.flush_stale(outbox_grace, now=now))
        stalled = now - timedelta(seconds=fanout_stall)
        async for dispatch in self._store.dispatches.find({"state": "expanding"}, {"heartbeat_at": 1}):
            if dispatch.get("heartbeat_at") is None or dispatch["heartbeat_at"] < stalled:
                await self._store.dispatches.update_one(
                    {"_id": dispatch["_id"]}, {"$set": {"heartbeat_at": now}}
                )
                self._schedule_expansion(dispatch["_id"])
                report.dispatches += 1
        lease = now - timedelta(seconds=self._policy.sending_lease_seconds)
        report.deliveries += (await self._requeue("sending", lease, now))[0]
        if queued_older_than is not None:
            handed_out, report.orphans = await self._requeue(
                "queued", now - timedelta(seconds=queued_older_than), now
            )
            report.deliveries += handed_out
        if report.outbox_entries or report.dispatches or report.deliveries:
            log.info("recovery sweep handed out again: %s", msgspec.json.encode(report).decode())
        return report

    async def _requeue(self, status: str, older_than: datetime, now: datetime) -> tuple[int, int]:
        """Hand out the deliveries in ``status`` since before ``older_than``: (handed out, orphans gone)."""
        found: list[Doc] = []
        next_claims: dict[str, str] = {}
        projection = {
            "channel": 1,
            "updated_at": 1,
            "attempts": 1,
            "priority": 1,
            "due_at": 1,
            "dispatch_id": 1,
        }
        async for doc in self._store.deliveries.find({"status": status}, projection):
            # the lease runs from when it was due: a retry's backoff, or the end of quiet hours
            # (deferred deliveries wait in host.dispatch.deferrals, not in the broker)
            due = doc.get("due_at") if status == "queued" else None
            if doc["updated_at"] <= older_than and (due is None or due <= older_than):
                found.append(doc)
                next_claims[f"{doc['_id']}:{doc.get('attempts', 0) + 1}"] = doc["_id"]
        if not found:
            return 0, 0
        orphans = 0
        if status == "queued":
            kept = await self._without_orphans(found)
            orphans, found = len(found) - len(kept), kept
            if not found:
                return 0, orphans
            await self._release_orphan_claims(next_claims, now)
            # a fresh updated_at keeps the next sweep from handing the same ones out again
            await self._store.deliveries.update_many(
                {"_id": {"$in": [doc["_id"] for doc in found]}}, {"$set": {"updated_at": now}}
            )
        await self._outbox.push_deliveries(found)  # each to its own lane
        return len(found), orphans

    async def _without_orphans(self, found: Sequence[Doc]) -> list[Doc]:
        """Delete the deliveries whose dispatch does not exist (the module docstring); the others."""
        # a delivery without a dispatch id is not this check's to judge: handed out as before
        dispatch_ids = list(dict.fromkeys(doc["dispatch_id"] for doc in found if "dispatch_id" in doc))
        missing = set(dispatch_ids)
        for start in range(0, len(dispatch_ids), ORPHAN_BATCH):
            batch = dispatch_ids[start : start + ORPHAN_BATCH]
            async for dispatch in self._store.dispatches.find({"_id": {"$in": batch}}, {"_id": 1}):
                missing.discard(dispatch["_id"])
        orphans = [doc["_id"] for doc in found if doc.get("dispatch_id") in missing]
        if not orphans:
            return list(found)
        for start in range(0, len(orphans), ORPHAN_BATCH):
            await self._store.deliveries.delete_many({"_id": {"$in": orphans[start : start + ORPHAN_BATCH]}})
        log.warning("deleted %d queued deliveries whose dispatch was never stored (orphans)", len(orphans))
        dropped = set(orphans)
        return [doc for doc in found if doc["_id"] not in dropped]

    async def _release_orphan_claims(self, next_claims: dict[str, str], now: datetime) -> None:
        """Give up claims whose delivery never became ``sending`` (the database failed in between).

        A claim is inserted before its delivery is marked ``sending``; when that second write fails,
        the delivery stays ``queued`` with its old attempt count, and every later hand-out meets the
        same claim id as a duplicate, "taken by another worker", forever. A claim for the delivery's
        next attempt that is older than the sending lease is such an orphan: it is closed as
        ``abandoned`` and the attempt counted, so the next hand-out claims a fresh id.
        """
        lease = now - timedelta(seconds=self._policy.sending_lease_seconds)
        orphans = [
            claim["_id"]
            async for claim in self._store.attempts.find(
                {"_id": {"$in": list(next_claims)}}, {"outcome": 1, "started_at": 1}
            )
            if claim.get("outcome") == "sending" and claim["started_at"] <= lease
        ]
        if not orphans:
            return
        await self._store.attempts.update_many(
            {"_id": {"$in": orphans}}, {"$set": {"outcome": "abandoned", "finished_at": now}}
        )
        await self._store.deliveries.bulk_write(
            [UpdateOne({"_id": next_claims[claim_id]}, {"$inc": {"attempts": 1}}) for claim_id in orphans],
            ordered=False,
        )
        log.warning("released %d orphaned claims (the database failed mid-claim)", len(orphans))

    def deep_every(self, interval: float) -> int:
        """Every how many passes a deep one (old ``queued`` deliveries too) comes, at ``interval`` seconds.

        About three times per enqueue lease (at most every 30th pass), so a short lease (a broker message
        lost with a killed worker) is noticed soon after it runs out.
        """
        return max(1, min(30, int(self._policy.enqueue_lease_seconds / (3 * interval))))

    async def tick(self, interval: float) -> None:
        """One pass of the periodic sweep (host.runtime.background); every few, a deep one."""
        deep = self._passes % self.deep_every(interval) == 0
        self._passes += 1
        await self.run_once(queued_older_than=self._policy.enqueue_lease_seconds if deep else None)
