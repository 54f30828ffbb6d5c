"""Delivery: claim a batch of attempts, render, send through the channel, write the results back in bulk.

An attempt is taken by inserting its claim document (``<delivery id>:<attempt>``, which also names the
worker process that took it): the inserted ones are this worker's, duplicate keys are another's, so a
batch the broker hands out twice sends nothing twice. Every filter is on ``_id``; results go back with
one bulk write per batch. A retry is never attempted before its due time (backoff or Retry-After).

Channels with a rate (host.rate_limits) are claimed about one second's worth at a time and each send
waits for a slot; a batch that has waited long re-queues its unclaimed rest through the outbox, so a
throttled channel never holds a worker thread for long nor leaves claimed deliveries waiting.

Expired addresses: when a channel reports an address gone (``PermanentChannelError(address_gone=True)``,
e.g. push 404/410), the user document gets, beside the address field, ``<field>Expired`` =
``{"address": <the canonical address that failed>, "at": <when>, "code": ..., "message": ...}``
(for the push subscription ``deviceToken``: ``deviceTokenExpired``). The address itself is left alone.
Later sends skip that channel for the user with a failure saying so (host.audience.plan_deliveries) as
long as the address is the same one; a new subscription written to the field is used again at once.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import time
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from host.attachments import AttachmentFetcher
from host.audience import expired_field, find_users, user_filter
from host.channel import Channel, Receipt
from host.compose import Composer
from host.documents import utcnow
from host.errors import ChannelError, PermanentChannelError, RenderError, TransientChannelError
from host.outbox import Outbox
from host.rate_limits import ChannelThrottle, build_throttles
from host.registry import ChannelRegistry
from host.rendering import Renderer
from host.settings import DeliveryPolicy, Settings
from host.store import Store

__all__ = ["DeliveryWorker", "backoff_seconds"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
#: a throttled batch that has waited this long hands its unclaimed rest back to the broker
THROTTLE_BUDGET_SECONDS = 5.0


def backoff_seconds(policy: DeliveryPolicy, attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never shorter than the provider's Retry-After."""
    ceiling = min(policy.max_backoff_seconds, policy.min_backoff_seconds * 2 ** max(attempt - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class _Outcome:
    """What one attempt ended with, ready to be written back."""

    __slots__ = ("address_gone", "delay", "error", "receipt", "status")

    def __init__(
        self,
        status: str,
        *,
        receipt: Receipt | None = None,
        error: Doc | None = None,
        delay: float = 0.0,
        address_gone: bool = False,
    ) -> None:
        self.status = status  # sent | retry | failed
        self.receipt = receipt
        self.error = error
        self.delay = delay
        self.address_gone = address_gone


def worker_name() -> str:
    """This process as attempt documents name it (taken per claim: worker processes are forked)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DeliveryWorker:
    """Sends batches of deliveries of one channel; safe to run twice on the same batch."""

    def __init__(
        self, store: Store, settings: Settings, registry: ChannelRegistry, renderer: Renderer, outbox: Outbox
    ) -> None:
        self._store = store
        self._policy = settings.config.delivery
        self._registry = registry
        self._renderer = renderer
        self._outbox = outbox
        self._composers: OrderedDict[tuple[str, str], Composer] = OrderedDict()
        self._attachments = AttachmentFetcher(settings.env.file_service_url)
        self.throttles: dict[str, ChannelThrottle] = build_throttles(
            settings.config, dict(registry.items()), settings.env.redis_url
        )

    async def _composer(self, dispatch_id: str, name: str, channel: Channel) -> Composer:
        key = (dispatch_id, name)
        composer = self._composers.get(key)
        if composer is None:
            dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
            if dispatch is None:
                raise RenderError(f"dispatch {dispatch_id} no longer exists")
            template = None
            if dispatch.get("template_id"):
                from host.compose import load_template

                template = await load_template(self._store, dispatch["template_id"])
            attachments = await self._attachments.for_dispatch(name, dispatch, template)
            composer = Composer(self._renderer, channel, dispatch, template, attachments=attachments)
            self._composers[key] = composer
            if len(self._composers) > 256:
                self._composers.popitem(last=False)
        else:
            self._composers.move_to_end(key)
        return composer

    def _ready(self, docs: Sequence[Doc], now: datetime) -> tuple[list[Doc], dict[int, list[str]]]:
        """The deliveries to attempt now, and those handed out too early (by remaining delay in ms)."""
        lease = timedelta(seconds=self._policy.sending_lease_seconds)
        ready: list[Doc] = []
        early: dict[int, list[str]] = defaultdict(list)
        for doc in docs:
            if doc["status"] == "queued":
                due = doc.get("due_at")
                if due is not None and due > now:
                    early[max(1, math.ceil((due - now).total_seconds() * 1000))].append(doc["_id"])
                else:
                    ready.append(doc)
            elif doc["status"] == "sending" and doc["updated_at"] < now - lease:
                ready.append(doc)  # its worker died mid-send: hand it out again
        return ready, early

    async def _claim(self, ready: Sequence[Doc], now: datetime) -> list[Doc]:
        claims = [
            {
                "_id": f"{doc['_id']}:{doc['attempts'] + 1}",
                "delivery_id": doc["_id"],
                "number": doc["attempts"] + 1,
                "started_at": now,
                "outcome": "sending",
                "worker": worker_name(),
            }
            for doc in ready
        ]
        taken = set(range(len(claims)))
        try:
            await self._store.attempts.insert_many(claims, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                taken.discard(error["index"])
        claimed = [ready[i] for i in sorted(taken)]
        if claimed:
            await self._store.deliveries.update_many(
                {"_id": {"$in": [doc["_id"] for doc in claimed]}},
                {"$set": {"status": "sending", "updated_at": now}, "$inc": {"attempts": 1}},
            )
            for doc in claimed:
                doc["attempts"] += 1
        return claimed

    async def deliver(self, name: str, ids: Sequence[str]) -> None:
        """Attempt every delivery of this batch that is due and not taken by another worker."""
        channel = self._registry[name]
        now = utcnow()
        docs = await self._store.deliveries.find({"_id": {"$in": list(ids)}}).to_list(None)
        ready, early = self._ready(docs, now)
        for delay_ms, early_ids in early.items():
            await self._outbox.push({name: early_ids}, delay_ms=delay_ms)
        throttle = self.throttles.get(name)
        if throttle is None:
            await self._claim_and_send(name, channel, ready, now, None)
            return
        began = time.monotonic()
        for start in range(0, len(ready), throttle.chunk_size):
            if start and time.monotonic() - began > THROTTLE_BUDGET_SECONDS:
                await self._outbox.push({name: [doc["_id"] for doc in ready[start:]]}, delay_ms=1000)
                return
            chunk = ready[start : start + throttle.chunk_size]
            await self._claim_and_send(name, channel, chunk, utcnow(), throttle)

    async def _claim_and_send(
        self,
        name: str,
        channel: Channel,
        ready: Sequence[Doc],
        now: datetime,
        throttle: ChannelThrottle | None,
    ) -> None:
        claimed = await self._claim(ready, now)
        if not claimed:
            return
        users = await find_users(self._store, [doc["user_id"] for doc in claimed], {})
        outcomes = await self._send(name, channel, claimed, users, throttle)
        await self._record(name, claimed, outcomes)

    async def _send(
        self,
        name: str,
        channel: Channel,
        claimed: Sequence[Doc],
        users: Mapping[str, Doc],
        throttle: ChannelThrottle | None,
    ) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        try:
            async with channel.open() as sender:
                for doc in claimed:
                    outcomes.append(await self._attempt(name, channel, sender, doc, users, throttle))
        except ChannelError as exc:
            # opening (or closing) the provider connection failed: every unsent one shares the error
            for doc in claimed[len(outcomes) :]:
                outcomes.append(self._failure(name, doc, exc))
        return outcomes

    async def _attempt(
        self,
        name: str,
        channel: Channel,
        sender: Any,
        doc: Doc,
        users: Mapping[str, Doc],
        throttle: ChannelThrottle | None,
    ) -> _Outcome:
        try:
            composer = await self._composer(doc["dispatch_id"], name, channel)
            user = users.get(doc["user_id"], {})
            message = composer.compose(user, locale=user.get(self._store.fields.locale))
            if throttle is not None:
                await throttle.wait_for_slot()  # last thing before the provider call: the slot is now
            receipt = await sender.send(message, doc["address"])
        except RenderError as exc:
            return _Outcome("failed", error={"channel": name, "code": "render", "message": str(exc)})
        except ChannelError as exc:
            return self._failure(name, doc, exc)
        except Exception as exc:  # a bug in a plugin must not lose the delivery: retry it
            log.exception("channel %s raised unexpectedly for delivery %s", name, doc["_id"])
            return self._failure(
                name, doc, TransientChannelError(f"{type(exc).__name__}: {exc}", code="internal")
            )
        return _Outcome("sent", receipt=receipt)

    def _failure(self, name: str, doc: Doc, exc: ChannelError) -> _Outcome:
        error = {"channel": name, "code": exc.code, "message": exc.message}
        if isinstance(exc, PermanentChannelError):
            return _Outcome("failed", error=error, address_gone=exc.address_gone)
        if doc["attempts"] >= self._policy.max_attempts:
            error["message"] = f"{exc.message} (gave up after {doc['attempts']} attempts)"
            return _Outcome("failed", error=error)
        retry_after = exc.retry_after if isinstance(exc, TransientChannelError) else None
        return _Outcome(
            "retry", error=error, delay=backoff_seconds(self._policy, doc["attempts"], retry_after)
        )

    async def _record(self, name: str, claimed: Sequence[Doc], outcomes: Sequence[_Outcome]) -> None:
        now = utcnow()
        deliveries: list[UpdateOne] = []
        attempts: list[UpdateOne] = []
        retries: dict[int, list[str]] = defaultdict(list)
        for doc, outcome in zip(claimed, outcomes, strict=True):
            fields: Doc = {"updated_at": now}
            if outcome.status == "sent":
                assert outcome.receipt is not None
                fields |= {
                    "status": "sent",
                    "sent_at": now,
                    "provider_id": outcome.receipt.provider_id,
                    "provider": outcome.receipt.provider,
                    "last_error": None,
                }
            elif outcome.status == "retry":
                delay_ms = int(outcome.delay * 1000)
                fields |= {
                    "status": "queued",
                    "due_at": now + timedelta(milliseconds=delay_ms),
                    "last_error": outcome.error,
                }
                retries[delay_ms].append(doc["_id"])
            else:
                fields |= {"status": "failed", "last_error": outcome.error}
                log.info("delivery %s failed: %s", doc["_id"], outcome.error)
                if outcome.address_gone:
                    await self._mark_expired(name, doc, outcome.error or {}, now)
            deliveries.append(UpdateOne({"_id": doc["_id"]}, {"$set": fields}))
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
        await self._store.deliveries.bulk_write(deliveries, ordered=False)
        await self._store.attempts.bulk_write(attempts, ordered=False)
        for delay_ms, ids in retries.items():
            await self._outbox.push({name: ids}, delay_ms=delay_ms)

    async def _mark_expired(self, name: str, doc: Doc, error: Doc, now: datetime) -> None:
        """Record beside the user's address that the provider reported it gone (module docstring)."""
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
