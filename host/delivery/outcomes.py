"""Outcomes of delivery attempts: what a send ended with, the retry backoff, and writing results back.

An attempt ends ``sent`` (with the provider's receipt), ``retry`` (a transient error while attempts
remain: the delivery is queued again after a backoff, never shorter than the provider's Retry-After) or
``failed``. :class:`OutcomeRecorder` writes one batch of outcomes back with one bulk write per
collection (deliveries, attempts), filtered on ``_id`` only, and re-queues the retries through the
outbox. When a channel reports an address gone, it marks the user's address expired (host.delivery.worker);
an e-mail address an SMTP server refused as unknown (5.1.x at RCPT) is also suppressed as a hard bounce
(host.audience.suppressions), so no other user's mail goes to it either. An attempt starts with its
claim (:func:`claim_attempts`), the attempt document its result is later written to.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ConnectionFailure
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_before_delay,
    wait_exponential,
)

from host.audience.suppressions import Suppressions
from host.audience.users import expired_field, user_filter
from host.delivery.backoff import backoff_seconds
from host.delivery.lifecycle import Status, advance
from host.delivery.metrics import count_feedback, count_outcome
from host.delivery.minute_counts import MinuteCounts
from host.dispatch.outbox import Outbox
from host.errors import ChannelError, PermanentChannelError, TransientChannelError
from host.plugins.channel import Receipt
from host.plugins.registry import ChannelRegistry
from host.settings import DeliveryPolicy
from host.storage.documents import utcnow
from host.storage.duplicates import duplicate_indexes, insert_at_once
from host.storage.store import Store

__all__ = ["Outcome", "OutcomeListener", "OutcomeRecorder", "claim_attempts", "failure_outcome"]

# the delivery worker's log, where operators look for failed deliveries
log = logging.getLogger("host.delivery.worker")

Doc = dict[str, Any]

#: how long results of messages already sent are retried against an unreachable database before the
#: batch gives up (and the sweep hands it out again, sending it twice): well inside the sending lease
RESULT_WRITE_PATIENCE_SECONDS = 60.0


def _log_retry(state: RetryCallState) -> None:
    log.warning("database unreachable while recording results; retrying in %.1f s", state.upcoming_sleep)


async def _write_patiently(
    collection: AsyncCollection[Doc],
    updates: list[UpdateOne],
    patience: float = RESULT_WRITE_PATIENCE_SECONDS,
) -> None:
    """Bulk-write results, riding out a database restart: the messages are already sent.

    Retried on ConnectionFailure only, 0.2 s doubling to at most 5 s, for as long as the next try still
    starts within ``patience``; then the last ConnectionFailure is raised as it was.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(ConnectionFailure),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        stop=stop_before_delay(patience),
        before_sleep=_log_retry,
        reraise=True,
    )
    await retrying(collection.bulk_write, updates, ordered=False)


async def claim_attempts(store: Store, ready: Sequence[Doc], now: datetime, worker: str) -> list[Doc]:
    """Take the next attempt of each of these deliveries by inserting its claim; return those taken.

    A claim's ``_id`` is ``<delivery id>:<attempt>``: a duplicate key is another worker's (so a batch
    handed out twice sends nothing twice); the claimed deliveries move to ``sending`` by ``_id`` each.
    """
    if not ready:  # all early, held or settled: nothing to claim
        return []
    claims = [
        {
            "_id": f"{doc['_id']}:{doc['attempts'] + 1}",
            "delivery_id": doc["_id"],
            "number": doc["attempts"] + 1,
            "started_at": now,
            "outcome": "sending",
            "worker": worker,
        }
        for doc in ready
    ]
    taken = set(range(len(claims)))
    try:
        await insert_at_once(store.attempts, claims)
    except BulkWriteError as exc:
        taken -= duplicate_indexes(exc)  # another worker's claims
    claimed = [ready[i] for i in sorted(taken)]
    if claimed:
        # by _id each, not update_many with $in: the development database matches each document
        # against the whole $in list (measured 21-28 against 36-42 µs a document)
        move = {"$set": {"status": "sending", "updated_at": now}, "$inc": {"attempts": 1}}
        for doc in claimed:
            advance(doc, "sending")  # queued → sending, or sending → sending after the lease
        await store.deliveries.bulk_write([UpdateOne({"_id": d["_id"]}, move) for d in claimed])
        for doc in claimed:
            doc["attempts"] += 1
    return claimed


class Outcome:
    """What one attempt ended with, ready to be written back."""

    __slots__ = ("address_gone", "delay", "error", "providers", "receipt", "status")

    def __init__(
        self,
        status: str,
        *,
        receipt: Receipt | None = None,
        error: Doc | None = None,
        delay: float = 0.0,
        address_gone: bool = False,
        providers: Sequence[tuple[str, bool]] = (),
    ) -> None:
        self.status = status  # sent | retry | failed | skipped
        self.receipt = receipt
        self.error = error
        self.delay = delay
        self.address_gone = address_gone
        #: the providers tried, in order, and whether each took the message (the Overview's rates)
        self.providers = providers


def failure_outcome(policy: DeliveryPolicy, name: str, doc: Doc, exc: ChannelError) -> Outcome:
    """Retry a transient error while attempts remain; anything else fails the delivery."""
    error = {"channel": name, "code": exc.code, "message": exc.message}
    if isinstance(exc, PermanentChannelError):
        return Outcome("failed", error=error, address_gone=exc.address_gone)
    if doc["attempts"] >= policy.max_attempts:
        error["message"] = f"{exc.message} (gave up after {doc['attempts']} attempts)"
        return Outcome("failed", error=error)
    retry_after = exc.retry_after if isinstance(exc, TransientChannelError) else None
    return Outcome(
        "retry",
        error=error,
        delay=backoff_seconds(
            doc["attempts"],
            minimum=policy.min_backoff_seconds,
            maximum=policy.max_backoff_seconds,
            retry_after=retry_after,
        ),
    )


class OutcomeListener(Protocol):
    """Told of a batch's settled deliveries before their results are written (the event log is one)."""

    async def delivery_outcomes(self, deliveries: Sequence[Doc]) -> None:
        """The deliveries as they are written back (outbox style: a crash after it loses nothing)."""
        ...


_ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")

#: the delivery status each outcome moves a claimed (``sending``) delivery to
_STATUS_OF: dict[str, Status] = {"sent": "sent", "retry": "queued", "skipped": "skipped", "failed": "failed"}


class OutcomeRecorder:
    """Writes a batch's outcomes to its deliveries and attempt documents; re-queues the retries."""

    def __init__(
        self,
        store: Store,
        registry: ChannelRegistry,
        outbox: Outbox,
        *,
        events: OutcomeListener | None = None,
        suppressions: Suppressions | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._outbox = outbox
        self._events = events
        self._suppressions = suppressions
        self._minutes = MinuteCounts(store)

    async def record(self, name: str, claimed: Sequence[Doc], outcomes: Sequence[Outcome]) -> None:
        """Write back the outcome of each claimed delivery (same order as ``claimed``)."""
        now = utcnow()
        deliveries: list[UpdateOne] = []
        attempts: list[UpdateOne] = []
        retries: dict[int, list[Doc]] = defaultdict(list)
        settled: list[Doc] = []  # as written back: their events (host.events.log)
        for doc, outcome in zip(claimed, outcomes, strict=True):
            count_outcome(name, outcome.status)
            fields: Doc = {"updated_at": now, "status": advance(doc, _STATUS_OF[outcome.status])}
            if outcome.status == "sent":
                assert outcome.receipt is not None
                fields |= {
                    "sent_at": now,
                    "provider_id": outcome.receipt.provider_id,
                    "provider": outcome.receipt.provider,
                    "last_error": None,
                }
            elif outcome.status == "retry":
                delay_ms = int(outcome.delay * 1000)
                fields |= {
                    "due_at": now + timedelta(milliseconds=delay_ms),
                    "last_error": outcome.error,
                }
                retries[delay_ms].append(doc)
            elif outcome.status == "skipped":  # not sent on purpose: the user opted out
                fields |= {"last_error": outcome.error}
            else:
                fields |= {"last_error": outcome.error}
                log.info("delivery %s failed: %s", doc["_id"], outcome.error)
                if outcome.address_gone:
                    await self._mark_expired(name, doc, outcome.error or {}, now)
                    await self._suppress(name, doc, outcome.error or {})
            deliveries.append(UpdateOne({"_id": doc["_id"]}, {"$set": fields}))
            if outcome.status != "retry":
                settled.append(doc | fields)
            attempts.append(
                UpdateOne(
                    {"_id": f"{doc['_id']}:{doc['attempts']}"},
                    {
                        "$set": {
                            "finished_at": now,
                            "outcome": outcome.status,
                            "error": outcome.error,
                            "provider_id": outcome.receipt.provider_id if outcome.receipt else None,
                        }
                    },
                )
            )
        if self._events is not None:  # written first (outbox style): a crash after it loses no event
            await self._events.delivery_outcomes(settled)
        await _write_patiently(self._store.deliveries, deliveries)
        await _write_patiently(self._store.attempts, attempts)
        for delay_ms, docs in retries.items():
            await self._outbox.push_deliveries(docs, delay_ms=delay_ms)  # each in its own lane
        await self._minutes.count(name, outcomes, now)  # the Overview's series (best effort)

    async def _mark_expired(self, name: str, doc: Doc, error: Doc, now: datetime) -> None:
        """Record beside the user's address that the provider reported it gone (host.delivery.worker)."""
        fields = self._store.fields
        field = fields.field_for(self._registry[name].address_field)
        expiry = {
            "address": doc["address"],
            "at": now,
            "code": error.get("code"),
            "message": error.get("message"),
        }
        await self._store.users.update_one(
            user_filter(fields, doc["user_id"]), {"$set": {expired_field(field): expiry}}
        )

    async def _suppress(self, name: str, doc: Doc, error: Doc) -> None:
        """An e-mail address the server refused as gone is a hard bounce, reported at once (no DSN)."""
        if name != "email" or self._suppressions is None or not doc.get("address"):
            return
        message = str(error.get("message") or "")
        status = _ENHANCED_STATUS.search(message)
        detail = {
            "source": "smtp-reply",
            "status": status.group(1) if status else None,
            "detail": message[:1000],
            "delivery_id": doc["_id"],
            "dispatch_id": doc.get("dispatch_id"),
        }
        await self._suppressions.add(doc["address"], "hard-bounce", detail)
        count_feedback("smtp-reply", "hard-bounce")
