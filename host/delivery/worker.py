"""Delivery: claim a batch of attempts, render, send through the channel, write the results back in bulk.

An attempt is taken by inserting its claim document (``<delivery id>:<attempt>``, which also names the
worker process that took it): the inserted ones are this worker's, duplicate keys are another's, so a
batch the broker hands out twice sends nothing twice. Every filter is on ``_id``; results go back with
one bulk write per batch (host.delivery.outcomes). A retry is never attempted before its due time (backoff or
Retry-After). A channel declaring ``Limits.concurrency`` > 1 gets that many connections per batch.

Channels with a rate (host.delivery.rate_limits) are claimed about one second's worth at a time and each send
waits for a slot (``high`` first when slots are scarce); a batch that has waited long re-queues its
unclaimed rest through the outbox, so a throttled channel never holds a worker thread for long nor leaves
claimed deliveries waiting. Everything handed back to the broker goes to its own priority lane.

Quiet hours (host.delivery.quiet_hours): before a batch is claimed, its non-``high`` deliveries whose
users are inside their quiet window are held until the window ends (host.dispatch.deferrals); a held
delivery that reaches a worker early anyway is left for its release.

Expired addresses: when a channel reports an address gone (``PermanentChannelError(address_gone=True)``,
e.g. push 404/410), the user document gets, beside the address field, ``<field>Expired`` =
``{"address": <the canonical address that failed>, "at": <when>, "code": ..., "message": ...}``
(for the push subscription ``deviceToken``: ``deviceTokenExpired``). The address itself is left alone.
Later sends skip that channel for the user with a failure saying so (host.audience.planning) as
long as the address is the same one; a new subscription written to the field is used again at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from host.access.bounce_addresses import BounceAddresses
from host.access.unsubscribe_links import UnsubscribeLinks
from host.audience.opt_outs import OptOuts
from host.audience.suppressions import Suppressions
from host.audience.users import find_users
from host.delivery.attachments import AttachmentFetcher
from host.delivery.failover import FailoverSender, ProviderChain, build_chains
from host.delivery.lifecycle import ready_to_attempt
from host.delivery.metrics import observe_send
from host.delivery.opt_out_checks import SendTimeOptOuts
from host.delivery.outcomes import (
    Outcome,
    OutcomeListener,
    OutcomeRecorder,
    claim_attempts,
    failure_outcome,
)
from host.delivery.quiet_hours import QuietHoursCheck
from host.delivery.rate_limits import ChannelThrottle, build_throttles
from host.dispatch.deferrals import Deferrals
from host.dispatch.outbox import Outbox
from host.errors import ChannelError, NotFound, RenderError, TransientChannelError
from host.plugins.channel import Channel, Message
from host.plugins.registry import ChannelRegistry
from host.settings import DEFAULT_LANE, Lane, Settings
from host.storage.documents import utcnow
from host.storage.store import Store
from host.templates.composition import Composer
from host.templates.rendering import Renderer
from host.templates.service import TemplateService

__all__ = ["DeliveryWorker", "worker_name"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
#: a throttled batch that has waited this long hands its unclaimed rest back to the broker
THROTTLE_BUDGET_SECONDS = 5.0


def worker_name() -> str:
    """This process as attempt documents name it (taken per claim: worker processes are forked)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DeliveryWorker:
    """Sends batches of deliveries of one channel; safe to run twice on the same batch."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        registry: ChannelRegistry,
        renderer: Renderer,
        outbox: Outbox,
        templates: TemplateService,
        opt_outs: OptOuts,
        *,
        events: OutcomeListener | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
        bounces: BounceAddresses | None = None,
        suppressions: Suppressions | None = None,
    ) -> None:
        self._store = store
        self._policy = settings.config.delivery
        self._registry = registry
        self._renderer = renderer
        self._outbox = outbox
        self._templates = templates
        self._outcomes = OutcomeRecorder(store, registry, outbox, events=events, suppressions=suppressions)
        self._opt_outs = SendTimeOptOuts(store, opt_outs, self._outcomes, suppressions)
        self._unsubscribe = unsubscribe  # the e-mails' List-Unsubscribe links (None: no secret key)
        self._bounces = bounces  # the e-mails' VERP envelope senders (None: no secret key)
        self._composers: OrderedDict[tuple[str, str], Composer] = OrderedDict()
        self._attachments = AttachmentFetcher(settings.env.file_service_url)
        #: each channel's providers in order, with this process's circuit breakers (failover)
        self.chains: dict[str, ProviderChain] = build_chains(settings.config, registry)
        self.throttles: dict[str, ChannelThrottle] = build_throttles(
            settings.config, dict(registry.items()), settings.env.redis_url
        )
        self.quiet_hours = QuietHoursCheck(store, settings.config, Deferrals(store, outbox))

    def close(self) -> None:
        """Close the rate limiters' Redis connections (the runtime's close)."""
        for throttle in self.throttles.values():
            throttle.close()

    async def _composer(self, dispatch_id: str, name: str, channel: Channel) -> Composer:
        key = (dispatch_id, name)
        composer = self._composers.get(key)
        if composer is None:
            dispatch = self._opt_outs.take_dispatch(dispatch_id)  # read for its category, usually
            if dispatch is None:
                dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
            if dispatch is None:
                raise RenderError(f"dispatch {dispatch_id} no longer exists")
            try:
                template = await self._templates.for_dispatch(dispatch)  # the version it was accepted with
            except NotFound:  # deleted since: retrying cannot help
                raise RenderError(
                    f"template {dispatch.get('template_id')} no longer exists (deleted after it was accepted)"
                ) from None
            attachments = await self._attachments.for_dispatch(name, dispatch, template)
            composer = await Composer.prepare(
                self._renderer,
                channel,
                dispatch,
                template,
                attachments=attachments,
                unsubscribe=self._unsubscribe,
                bounces=self._bounces,
            )
            self._composers[key] = composer
            if len(self._composers) > 256:
                self._composers.popitem(last=False)
        else:
            self._composers.move_to_end(key)
        return composer

    async def deliver(
        self, name: str, ids: Sequence[str], lane: Lane = DEFAULT_LANE, *, now: datetime | None = None
    ) -> None:
        """Attempt every delivery of this batch that is due and not taken by another worker.

        ``lane`` is the queue the batch came from; ``now`` (default: the clock) is when it is due.
        """
        channel = self._registry[name]
        now = now or utcnow()
        docs = await self._store.deliveries.find({"_id": {"$in": list(ids)}}).to_list(None)
        ready, early = ready_to_attempt(
            docs, now, lease=timedelta(seconds=self._policy.sending_lease_seconds)
        )
        for delay_ms, early_docs in early.items():
            await self._outbox.push_deliveries(early_docs, delay_ms=delay_ms)
        if ready and lane != "high" and self.quiet_hours.enabled:
            ready = await self.quiet_hours.hold_quiet(ready, now)
        throttle = self.throttles.get(name)
        if throttle is None:
            await self._claim_and_send(name, channel, ready, now, None, lane)
            return
        began = time.monotonic()
        for start in range(0, len(ready), throttle.chunk_size):
            if start and time.monotonic() - began > THROTTLE_BUDGET_SECONDS:
                await self._outbox.push_deliveries(ready[start:], delay_ms=1000)
                return
            chunk = ready[start : start + throttle.chunk_size]
            await self._claim_and_send(name, channel, chunk, utcnow(), throttle, lane)

    async def _claim_and_send(
        self,
        name: str,
        channel: Channel,
        ready: Sequence[Doc],
        now: datetime,
        throttle: ChannelThrottle | None,
        lane: Lane = DEFAULT_LANE,
    ) -> None:
        claimed = await claim_attempts(self._store, ready, now, worker_name())
        if claimed:  # an opt-out or a suppression recorded since the fan-out still wins
            claimed = await self._opt_outs.skip_opted_out(name, claimed)
        if not claimed:
            return
        users = await find_users(self._store, [doc["user_id"] for doc in claimed], {})
        claimed = await self._opt_outs.skip_inactive(name, claimed, users)
        if not claimed:
            return
        outcomes = await self._send(name, channel, claimed, users, throttle, lane)
        await self._outcomes.record(name, claimed, outcomes)

    async def _send(
        self,
        name: str,
        channel: Channel,
        claimed: Sequence[Doc],
        users: Mapping[str, Doc],
        throttle: ChannelThrottle | None,
        lane: Lane,
    ) -> list[Outcome]:
        """Send over ``Limits.concurrency`` provider connections at once, the i-th taking every i-th one."""
        connections = max(1, min(channel.limits.concurrency, len(claimed)))
        if connections == 1:
            return await self._send_over(name, channel, claimed, users, throttle, lane)
        async with asyncio.TaskGroup() as group:  # a bug in one connection cancels the others
            tasks = [
                group.create_task(
                    self._send_over(name, channel, claimed[i::connections], users, throttle, lane)
                )
                for i in range(connections)
            ]
        parts = [task.result() for task in tasks]
        return [parts[index % connections][index // connections] for index in range(len(claimed))]

    async def _send_over(
        self,
        name: str,
        channel: Channel,
        claimed: Sequence[Doc],
        users: Mapping[str, Doc],
        throttle: ChannelThrottle | None,
        lane: Lane,
    ) -> list[Outcome]:
        """Send these deliveries in order over one provider connection.

        Each next message is composed before the current one is sent and announced to the sender
        (host.plugins.channel.Lookahead: SMTP writes its envelope behind the current message's dot);
        not when throttled, where each send first waits for its slot.
        """
        outcomes: list[Outcome] = []
        try:
            async with self.chains[name].open() as sender:  # the providers in order (host.delivery.failover)
                upcoming = await self._prepare(name, channel, claimed[0], users) if claimed else None
                for index, doc in enumerate(claimed):
                    prepared = upcoming
                    if index + 1 < len(claimed):
                        upcoming = await self._prepare(name, channel, claimed[index + 1], users)
                        if throttle is None and isinstance(upcoming, Message):
                            sender.expect(upcoming, claimed[index + 1]["address"])
                    assert prepared is not None
                    outcome = await self._try(name, sender, doc, prepared, throttle, lane)
                    outcome.providers = sender.take_verdicts()
                    outcomes.append(outcome)
        except ChannelError as exc:
            # opening (or closing) the provider connection failed: every unsent one shares the error
            providers = self.chains[name].providers
            lone = ((providers[0].label, False),) if len(providers) == 1 else ()
            for doc in claimed[len(outcomes) :]:
                outcome = failure_outcome(self._policy, name, doc, exc)
                outcome.providers = lone  # a lone provider that cannot be reached failed them all
                outcomes.append(outcome)
        return outcomes

    async def _prepare(
        self, name: str, channel: Channel, doc: Doc, users: Mapping[str, Doc]
    ) -> Message | Outcome:
        """The delivery's message, or the outcome of failing to compose it."""
        try:
            composer = await self._composer(doc["dispatch_id"], name, channel)
            user = users.get(doc["user_id"], {})
            locale = user.get(self._store.fields.locale)
            return composer.compose(user, locale, user_id=doc["user_id"], delivery_id=doc["_id"])
        except RenderError as exc:
            return Outcome("failed", error={"channel": name, "code": "render", "message": str(exc)})
        except Exception as exc:
            return self._failure(name, doc, exc)

    async def _try(
        self,
        name: str,
        sender: FailoverSender,
        doc: Doc,
        message: Message | Outcome,
        throttle: ChannelThrottle | None,
        lane: Lane,
    ) -> Outcome:
        if isinstance(message, Outcome):  # it could not be composed
            return message
        try:
            if throttle is not None:
                await throttle.wait_for_slot(lane)  # last thing before the provider call: the slot is now
            started = time.perf_counter()
            receipt = await sender.send(message, doc["address"])
            observe_send(name, time.perf_counter() - started)
        except Exception as exc:
            return self._failure(name, doc, exc)
        return Outcome("sent", receipt=receipt)

    def _failure(self, name: str, doc: Doc, exc: Exception) -> Outcome:
        if isinstance(exc, ChannelError):
            return failure_outcome(self._policy, name, doc, exc)
        # a bug in a plugin must not lose the delivery: retry it
        log.exception("channel %s raised unexpectedly for delivery %s", name, doc["_id"], exc_info=exc)
        error = TransientChannelError(f"{type(exc).__name__}: {exc}", code="internal")
        return failure_outcome(self._policy, name, doc, error)
