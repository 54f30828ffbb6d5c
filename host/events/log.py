"""Delivery events, written down outbox-style for the configured webhook endpoints.

host.events.webhooks posts them.

Collections:

- ``events``: ``{_id, type, created_at, dispatch_id, data}``; ``data`` is the camelCase delivery or dispatch
  view of the API. Ids are deterministic (``<delivery id>:sent``, ``<dispatch id>:completed`` ...), so
  recording the same outcome twice (a batch handed out again) writes one event.
- ``webhook_deliveries``: one record per event and endpoint, ``_id`` ``<event id>:<endpoint index>``:
  status ``pending`` → ``delivered`` | ``failed``, attempts, last HTTP status and error.
- ``webhook_queue``: the small set of records still to post, ``_id`` = the record's; deleted once a record
  is delivered or failed. The poster reads only this collection.

When events are written:

- ``delivery.sent`` / ``delivery.failed`` (and ``delivery.skipped`` if a channel outcome ever is one): by
  :meth:`EventLog.delivery_outcomes`, called by host.delivery.outcomes once per batch, before the
  batch's results.
- ``delivery.skipped``, and ``delivery.failed`` for deliveries refused at fan-out (invalid address): when the
  dispatch completes, from one query of its deliveries; the fan-out hot path is left alone.
- ``dispatch.completed``: once every delivery of an expanded dispatch is settled (sent, failed or skipped).
  Checked for the dispatches of each recorded batch (debounced, by the poster) and, as a fallback, for the
  dispatches created in the last hour. Exactly once: the event's id is the dispatch's, and its insert is the
  claim; ``completed_at`` is then set on the dispatch.
- ``delivery.delivered`` / ``delivery.undelivered``: Twilio's status callbacks
  (host.feedback.twilio).
- ``delivery.bounced`` / ``delivery.complained``: a bounce or a complaint about a sent e-mail, from the
  bounce mailbox or an e-mail provider's webhook (host.feedback.recorder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import msgspec

from host.delivery.lifecycle import SETTLED
from host.dispatch.views import PENDING, count_deliveries, delivery_view, dispatch_view
from host.errors import ConfigurationError
from host.plugins.conventions import redacted_url
from host.settings import Settings
from host.settings.webhooks import WebhookEndpoint, endpoint_headers
from host.storage.documents import utcnow
from host.storage.duplicates import insert_missing
from host.storage.store import Store

__all__ = ["SECRET_VARIABLE", "EventLog", "event_body"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
SECRET_VARIABLE = "TIDINGS_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
#: the event type of each settled delivery status: ``delivery.sent``, ``delivery.failed`` ...
_TYPE_OF_STATUS = {status: f"delivery.{status}" for status in SETTLED}
#: the fallback completion check looks at dispatches created this recently
COMPLETION_WINDOW = timedelta(hours=1)


def event_body(event: Doc) -> bytes:
    """The JSON body posted to endpoints: ``{id, type, createdAt, data}``."""
    created = event["created_at"]
    return msgspec.json.encode(
        {"id": event["_id"], "type": event["type"], "createdAt": created, "data": event["data"]}
    )


class EventLog:
    """Writes events and their per-endpoint records; one per Runtime (so per event loop)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.endpoints: list[WebhookEndpoint] = list(settings.config.webhooks)
        if self.endpoints and not settings.env.webhook_secret:
            raise ConfigurationError(SECRET_VARIABLE, "required because webhooks are configured")
        self.secret = (settings.env.webhook_secret or "").encode()
        #: each endpoint's own headers, their values from the environment (never logged nor stored)
        self.headers: list[dict[str, str]] = [
            endpoint_headers(endpoint, settings.environ, index)
            for index, endpoint in enumerate(self.endpoints)
        ]
        self._store = store
        db = store.db
        self.events = db["events"]
        self.records = db["webhook_deliveries"]
        self.queue = db["webhook_queue"]
        self.attempts = db["webhook_attempts"]
        #: dispatches of recorded batches, to check for completion (the poster drains it)
        self.to_check: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether any endpoint is configured (without one, nothing is written)."""
        return bool(self.endpoints)

    async def ensure_indexes(self) -> None:
        """The console lists events newest first and records by event."""
        await self.events.create_index("created_at")
        await self.records.create_index("event_id")

    async def _with_records(self, events: list[Doc]) -> list[Doc]:
        """Each event with its per-endpoint records (``records``), in endpoint order."""
        by_event: dict[str, list[Doc]] = {event["_id"]: [] for event in events}
        async for record in self.records.find({"event_id": {"$in": list(by_event)}}):
            by_event.setdefault(record["event_id"], []).append(record)
        for event in events:
            event["records"] = sorted(by_event.get(event["_id"], []), key=lambda r: r["endpoint"])
        return events

    async def recent(self, event_type: str | None = None, *, skip: int = 0, limit: int = 50) -> list[Doc]:
        """The newest events (of one type), each with its status per endpoint."""
        criteria: Doc = {"type": event_type} if event_type else {}
        cursor = self.events.find(criteria).sort("created_at", -1).skip(skip).limit(limit)
        return await self._with_records(await cursor.to_list(None))

    async def get(self, event_id: str) -> Doc | None:
        """One event with its status per endpoint, or None."""
        event = await self.events.find_one({"_id": event_id})
        return (await self._with_records([event]))[0] if event is not None else None

    async def emit(self, events: Iterable[Doc]) -> None:
        """Write events, their records for the endpoints that want them, and queue those records.

        Queue entries first, then records, then events: a crash in between leaves an entry the poster
        drops (no event or record after a grace period), never an event nobody posts. An event written
        again (its outcome recorded twice) finds its records there and posts nothing twice.
        """
        if not self.enabled:
            return
        now = utcnow()
        docs = list(events)
        records: list[Doc] = []
        for event in docs:
            for index, endpoint in enumerate(self.endpoints):
                if endpoint.wants(event["type"]):
                    records.append(
                        {
                            "_id": f"{event['_id']}:{index}",
                            "event_id": event["_id"],
                            "endpoint": index,
                            "url": redacted_url(endpoint.url),
                            "status": "pending",
                            "attempts": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        if not records:
            return
        await insert_missing(
            self.queue,
            [
                {"_id": r["_id"], "event_id": r["event_id"], "created_at": now, "due_at": now, "token": 0}
                for r in records
            ],
        )
        await insert_missing(self.records, records)
        await insert_missing(self.events, docs)

    async def delivery_outcomes(self, deliveries: Sequence[Doc]) -> None:
        """Events for a batch's settled deliveries (documents as written back); notes their dispatches."""
        if not self.enabled:
            return
        events = [self.delivery_event(doc) for doc in deliveries if doc.get("status") in _TYPE_OF_STATUS]
        await self.emit(events)
        self.to_check.update(doc["dispatch_id"] for doc in deliveries)

    def delivery_event(self, doc: Doc) -> Doc:
        """The event of a delivery in its current status."""
        event_type = _TYPE_OF_STATUS[doc["status"]]
        return {
            "_id": f"{doc['_id']}:{doc['status']}",
            "type": event_type,
            "created_at": utcnow(),
            "dispatch_id": doc["dispatch_id"],
            "data": msgspec.to_builtins(delivery_view(doc)),
        }

    async def check_completed(self, dispatch_id: str) -> bool:
        """Write ``dispatch.completed`` (and the fan-out's skipped ones) if every delivery is settled."""
        dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
        if dispatch is not None and dispatch.get("state") == "expanding":
            self.to_check.add(dispatch_id)  # its last outcomes came before its fan-out ended: look again
        if dispatch is None or dispatch.get("state") != "expanded" or dispatch.get("completed_at"):
            return False
        counts = (await count_deliveries(self._store, [dispatch_id])).get(dispatch_id, {})
        if any(status in PENDING for statuses in counts.values() for status in statuses):
            return False
        # settled before any attempt (fan-out): skipped, or failed on an invalid address
        early: list[Doc] = []
        if any(statuses.get("skipped") or statuses.get("failed") for statuses in counts.values()):
            async for doc in self._store.deliveries.find({"dispatch_id": dispatch_id}):
                if doc["status"] == "skipped" or (doc["status"] == "failed" and not doc.get("attempts")):
                    early.append(self.delivery_event(doc))
        await self.emit(early)
        now = utcnow()
        data = msgspec.to_builtins(dispatch_view(dispatch, counts)) | {
            "completedAt": msgspec.to_builtins(now)
        }
        completed = {
            "_id": f"{dispatch_id}:completed",
            "type": "dispatch.completed",
            "created_at": now,
            "dispatch_id": dispatch_id,
            "data": data,
        }
        await self.emit([completed])
        await self._store.dispatches.update_one({"_id": dispatch_id}, {"$set": {"completed_at": now}})
        return True

    async def check_noted(self) -> None:
        """Check the dispatches of the batches recorded since the last call."""
        noted, self.to_check = self.to_check, set()
        for dispatch_id in noted:
            await self.check_completed(dispatch_id)

    async def check_recent(self) -> None:
        """The fallback: every recent dispatch not completed yet (all skipped at fan-out, or a race)."""
        since = utcnow() - COMPLETION_WINDOW
        cursor = self._store.dispatches.find({"created_at": {"$gte": since}}, {"state": 1, "completed_at": 1})
        candidates = [
            d["_id"] async for d in cursor if d.get("state") == "expanded" and not d.get("completed_at")
        ]
        for dispatch_id in candidates:
            await self.check_completed(dispatch_id)

    async def replay(self, event_id: str) -> int:
        """Queue an event again for every endpoint that wants it; returns how many records were queued."""
        event = await self.events.find_one({"_id": event_id})
        if event is None:
            return 0
        now = utcnow()
        queued = 0
        for index, endpoint in enumerate(self.endpoints):
            if not endpoint.wants(event["type"]):
                continue
            record_id = f"{event_id}:{index}"
            await self.records.update_one(
                {"_id": record_id},
                {
                    "$set": {"status": "pending", "updated_at": now, "url": redacted_url(endpoint.url)},
                    "$setOnInsert": {
                        "event_id": event_id,
                        "endpoint": index,
                        "attempts": 0,
                        "created_at": now,
                    },
                },
                upsert=True,
            )
            await self.queue.update_one(
                {"_id": record_id},
                {"$set": {"event_id": event_id, "due_at": now}, "$inc": {"token": 1}},
                upsert=True,
            )
            queued += 1
        return queued
