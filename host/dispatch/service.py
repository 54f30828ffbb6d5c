"""The dispatch service: the one way the API and the console read dispatches and act on deliveries.

Reading: a dispatch with its counts, its deliveries page by page, the console's lists and the failure
log's filter. Acting: cancelling a scheduled dispatch (host.dispatch.scheduling), and staff retries,
which put failed or skipped deliveries back in the queue as they are (attempt count unchanged, no due
time) through the lifecycle and hand them to the broker through the outbox, like any other delivery.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from host.audience.planning import Failure
from host.delivery.lifecycle import RETRYABLE, advance
from host.dispatch.outbox import Outbox
from host.dispatch.scheduling import cancel_scheduled
from host.dispatch.schemas import SendAccepted
from host.dispatch.views import DispatchView, count_deliveries, dispatch_view, status_query
from host.errors import NotFound
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = ["DispatchService"]

Doc = dict[str, Any]
#: a staff retry of "everything matching" stops at this many deliveries
RETRY_ALL_LIMIT = 5000


def _provider_failure(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or "delivery failed")
    code = error.get("code")
    return f"{message} (code {code})" if code and str(code) not in message else message


class DispatchService:
    """Dispatches and deliveries of one store."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self._store = store
        self._outbox = outbox

    async def total(self) -> int:
        """About how many dispatches are stored (the collection's estimate)."""
        return await self._store.dispatches.estimated_document_count()

    async def get(self, dispatch_id: str) -> Doc:
        """The dispatch document; NotFound (404) naming the id if there is none."""
        dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
        if dispatch is None:
            raise NotFound(f"id: no dispatch with id {dispatch_id!r}")
        return dispatch

    async def view(self, dispatch_id: str) -> DispatchView:
        """A dispatch with its deliveries counted per channel and status."""
        dispatch = await self.get(dispatch_id)
        counts = await count_deliveries(self._store, [dispatch_id])
        return dispatch_view(dispatch, counts.get(dispatch_id, {}))

    async def recent(self, *, skip: int, limit: int) -> tuple[list[Doc], dict[str, Any]]:
        """Dispatches newest first, and their counts (dispatch → channel → status → n)."""
        cursor = self._store.dispatches.find({}).sort("created_at", -1).skip(skip).limit(limit)
        dispatches = await cursor.to_list(None)
        return dispatches, await count_deliveries(self._store, [d["_id"] for d in dispatches])

    async def counts(self, dispatch_id: str) -> dict[str, dict[str, int]]:
        """One dispatch's counts: channel → status → n."""
        return (await count_deliveries(self._store, [dispatch_id])).get(dispatch_id, {})

    async def deliveries(
        self,
        query: Mapping[str, Any],
        *,
        sort: str = "_id",
        descending: bool = False,
        after: str | None = None,
        skip: int = 0,
        limit: int = 100,
    ) -> list[Doc]:
        """Deliveries matching ``query`` in ``sort`` order, after the id ``after`` or skipping ``skip``."""
        criteria = dict(query)
        if after:
            criteria["_id"] = {"$gt": after}
        cursor = self._store.deliveries.find(criteria).sort(sort, -1 if descending else 1)
        return await cursor.skip(skip).limit(limit).to_list(None)

    async def count(self, query: Mapping[str, Any]) -> int:
        """How many deliveries match."""
        return await self._store.deliveries.count_documents(dict(query))

    async def by_ids(self, ids: Sequence[str]) -> list[Doc]:
        """These deliveries, in the order of ``ids`` (unknown ids left out)."""
        found = {d["_id"]: d async for d in self._store.deliveries.find({"_id": {"$in": list(ids)}})}
        return [found[i] for i in ids if i in found]

    @staticmethod
    def filter(params: Mapping[str, Any], *, failed_only: bool, dispatch_id: str | None = None) -> Doc:
        """The deliveries query of a filter form: status, channel, dispatch, error text, time window."""

        def value(key: str) -> str:
            return str(params.get(key) or "").strip()

        criteria: Doc = {}
        status = value("status")
        if failed_only:
            criteria["status"] = status if status in RETRYABLE else {"$in": list(RETRYABLE)}
        elif status:
            criteria.update(status_query(status))  # `deferred` too, as the counts show it
        if value("channel"):
            criteria["channel"] = value("channel")
        if dispatch_id or value("dispatch"):
            criteria["dispatch_id"] = dispatch_id or value("dispatch")
        if value("error"):
            criteria["last_error.message"] = {"$regex": re.escape(value("error")), "$options": "i"}
        window: Doc = {}
        for key, operator in (("since", "$gte"), ("until", "$lte")):
            if value(key):
                try:
                    window[operator] = datetime.fromisoformat(value(key)).replace(tzinfo=UTC)
                except ValueError:
                    continue
        if window:
            criteria["updated_at"] = window
        return criteria

    async def retry(self, deliveries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Put the failed and skipped ones back in the queue; returns the ids that were retried."""
        retried = [dict(d) for d in deliveries if d["status"] in RETRYABLE]
        if not retried:
            return []
        for delivery in retried:
            advance(delivery, "queued")  # failed / skipped → queued: a staff retry (host.delivery.lifecycle)
        ids = [d["_id"] for d in retried]
        now = utcnow()
        await self._store.deliveries.update_many(
            {"_id": {"$in": ids}, "status": {"$in": list(RETRYABLE)}},
            {"$set": {"status": "queued", "due_at": None, "updated_at": now, "enqueued_at": now}},
        )
        await self._outbox.push_deliveries(retried)  # each back to its own lane
        return ids

    async def retry_matching(self, query: Mapping[str, Any]) -> list[str]:
        """Retry every delivery matching a failure-log filter, up to RETRY_ALL_LIMIT."""
        return await self.retry(await self.deliveries(query, limit=RETRY_ALL_LIMIT))

    async def cancel(self, dispatch_id: str, *, by: str | None = None) -> Doc:
        """Cancel a scheduled dispatch before it starts; 409 once it has started, 404 if unknown."""
        return await cancel_scheduled(self._store, dispatch_id, by=by)

    async def wait_settled(self, accepted: SendAccepted, seconds: float) -> SendAccepted:
        """Wait until the dispatch settles or ``seconds`` pass; add the providers' refusals to failures."""
        deadline = time.monotonic() + seconds
        pause = 0.02
        while not (await self.view(accepted.dispatch_id)).settled:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.25)
        failures = list(accepted.failures)
        # one indexed field in the filter (NOTES); deliveries known to fail at accept have 0 attempts
        async for doc in self._store.deliveries.find(
            {"dispatch_id": accepted.dispatch_id},
            {"status": 1, "attempts": 1, "user_id": 1, "channel": 1, "last_error": 1},
        ):
            if doc["status"] == "failed" and doc.get("attempts", 0) > 0:
                error = doc.get("last_error") or {}
                failures.append(
                    Failure(user_id=doc["user_id"], channel=doc["channel"], error=_provider_failure(error))
                )
        return SendAccepted(failures=failures, dispatch_id=accepted.dispatch_id, expansion=accepted.expansion)
