"""The wiring of one event loop: a Runtime builds the store, the channels, the services and the loops.

The API's loop and each worker's loop build their own Runtime: a MongoDB async client belongs to the
loop that created it. Handlers (the API's routes, the console's pages) get a Runtime by dependency
injection and call its services, never its collections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cached_property
from typing import Any

from beanie import init_beanie

from host.access.api_keys import ApiKeys
from host.access.bounce_addresses import BounceAddresses
from host.access.idempotency import IdempotencyKeys
from host.access.unsubscribe_links import UnsubscribeLinks
from host.audience.clusters import ClusterService
from host.audience.directory import UserDirectory
from host.audience.opt_outs import OptOuts
from host.audience.suppressions import Suppressions
from host.delivery.metrics import DeliveryTotals
from host.delivery.stats import StatsService
from host.delivery.worker import DeliveryWorker
from host.dispatch.accept import Dispatcher
from host.dispatch.deferrals import Deferrals
from host.dispatch.expansion import Expansion
from host.dispatch.outbox import Enqueue, EnqueueMany, Outbox
from host.dispatch.recovery import RecoverySweep
from host.dispatch.saga import SagaReader
from host.dispatch.scheduling import SCHEDULE_INTERVAL_SECONDS, Scheduler
from host.dispatch.service import DispatchService
from host.events.log import EventLog
from host.events.webhooks import WebhookPoster
from host.feedback.listener import BounceListener
from host.feedback.mailbox import BounceMailbox
from host.feedback.mailgun import MailgunEvents
from host.feedback.recorder import FeedbackRecorder
from host.feedback.sendgrid import SendGridEvents
from host.feedback.ses import SesNotifications
from host.feedback.twilio import TwilioCallbacks
from host.inbox.captures import Inbox
from host.plugins.registry import ChannelRegistry
from host.runtime.background import BackgroundLoop
from host.settings import Settings
from host.storage.documents import ALL_DOCUMENTS
from host.storage.feedback_documents import FEEDBACK_DOCUMENTS, FEEDBACK_TOKENS_COLLECTION
from host.storage.store import Store
from host.templates.catalogue import catalogue_for
from host.templates.rendering import Renderer
from host.templates.service import TemplateService

__all__ = [
    "FEEDBACK_INTERVAL_SECONDS",
    "POSTER_INTERVAL_SECONDS",
    "SWEEP_INTERVAL_SECONDS",
    "QueueDepths",
    "Runtime",
]

#: how often each worker runs the recovery sweep
SWEEP_INTERVAL_SECONDS = 5.0
#: how often waiting bounce reports (and bounce mail left unread) are looked at again
FEEDBACK_INTERVAL_SECONDS = 5.0
#: how often each worker's event poster looks for due posts
POSTER_INTERVAL_SECONDS = 0.5

#: reads the broker's waiting messages: channel → lane → {"ready": n, "delayed": n} (host.runtime.lanes)
QueueDepths = Callable[[], dict[str, dict[str, dict[str, int]]]]


class Runtime:
    """Everything the API or a worker needs, bound to the current event loop."""

    def __init__(
        self,
        settings: Settings,
        enqueue: Enqueue,
        schedule_expansion: Callable[[str], None],
        *,
        enqueue_many: EnqueueMany | None = None,
        queue_depths: QueueDepths | None = None,
        inbox: bool = False,
    ) -> None:
        self.settings = settings
        self._queue_depths = queue_depths
        self.store = Store.connect(settings)
        #: the embedded mode's inbox (``inbox=True``): channels with no provider configured are captured
        self.inbox: Inbox | None = Inbox(self.store.db) if inbox else None
        self.registry = ChannelRegistry.build(settings.config, settings.environ, inbox=self.inbox)
        self.renderer = Renderer(
            default_locale=settings.config.default_locale,
            default_timezone=settings.config.default_timezone,
            inline_syntax=settings.config.template_syntax,
        )
        batch_sizes = {name: channel.limits.batch_size for name, channel in self.registry.items()}
        self.outbox = Outbox(self.store, enqueue, batch_sizes, enqueue_many)
        # the services the API and the console call
        # Tidings' own templates, or Mia's collection in place (TEMPLATES_CRUD_NAME)
        self.templates = TemplateService(self.store, self.renderer, catalogue_for(self.store, settings))
        self.users = UserDirectory(self.store)
        self.clusters = ClusterService(self.store, self.users)
        self.opt_outs = OptOuts(self.store)
        self.suppressions = Suppressions(self.store)
        self.api_keys = ApiKeys(self.store.db)
        self.idempotency_keys = IdempotencyKeys.of(self.store)
        self.dispatches = DispatchService(self.store, self.outbox)
        self.events = EventLog(self.store, settings)
        self.twilio_callbacks = TwilioCallbacks(
            self.store,
            self.events,
            auth_token=settings.env.twilio_auth_token,
            public_url=settings.env.public_url,
        )
        self.unsubscribe_links = UnsubscribeLinks.from_settings(settings)
        self.bounce_addresses = BounceAddresses.from_settings(settings)
        self._build_feedback(settings)
        self.delivery_totals = DeliveryTotals(self.store)
        self.stats = StatsService(self.store, self.registry)  # the console's Overview and GET /stats
        self.dispatch = Dispatcher(
            settings,
            self.registry,
            self.renderer,
            self.templates,
            Expansion(
                self.store,
                self.registry,
                self.outbox,
                self.opt_outs,
                self.suppressions,
                lanes=settings.config.lanes,
            ),
            schedule_expansion,
        )
        # the background work of a worker process (host.runtime.background)
        self.sweep = RecoverySweep(self.store, self.outbox, schedule_expansion, settings.config.delivery)
        self.deferrals = Deferrals(self.store, self.outbox)  # quiet hours' held deliveries
        self.scheduler = Scheduler(self.store, schedule_expansion, self.deferrals)
        self.webhooks = WebhookPoster(self.events)
        self.sweeping = BackgroundLoop(
            "recovery sweep", lambda: self.sweep.tick(self.sweeping.interval), SWEEP_INTERVAL_SECONDS
        )
        self.scheduling = BackgroundLoop("scheduler", self.scheduler.tick, SCHEDULE_INTERVAL_SECONDS)
        self.posting = BackgroundLoop(
            "event poster", self.webhooks.tick, POSTER_INTERVAL_SECONDS, on_stop=self.webhooks.close
        )
        self.feedback_loop = BackgroundLoop("feedback", self.bounce_mail.tick, FEEDBACK_INTERVAL_SECONDS)
        self.bounce_listener: BounceListener | None = None
        self._channels_started = False

    def _build_feedback(self, settings: Settings) -> None:
        """The bounce mailbox and the e-mail providers' webhooks (None: not configured), over one recorder."""
        bounces, env = settings.config.bounces, settings.env
        self.feedback = FeedbackRecorder(
            self.store, self.events, self.suppressions, self.opt_outs, bounces.soft_bounces
        )
        self.bounce_mail = BounceMailbox(self.store, self.feedback, self.bounce_addresses)
        self.ses_notifications = (
            SesNotifications(bounces.ses, self.feedback, self.bounce_addresses) if bounces.ses else None
        )
        self.sendgrid_events = (
            SendGridEvents(
                env.sendgrid_webhook_public_key, self.feedback, replay_window=bounces.replay_window_seconds
            )
            if env.sendgrid_webhook_public_key
            else None
        )
        self.mailgun_events = (
            MailgunEvents(
                env.mailgun_webhook_signing_key,
                self.feedback,
                self.store.db[FEEDBACK_TOKENS_COLLECTION],
                self.bounce_addresses,
                replay_window=bounces.replay_window_seconds,
            )
            if env.mailgun_webhook_signing_key
            else None
        )

    @cached_property
    def delivery(self) -> DeliveryWorker:
        """The delivery worker, built on first use.

        The API process never sends, so it never builds the rate limiters, provider chains and
        attachment fetcher that the worker holds.
        """
        return DeliveryWorker(
            self.store,
            self.settings,
            self.registry,
            self.renderer,
            self.outbox,
            self.templates,
            self.opt_outs,
            events=self.events,
            unsubscribe=self.unsubscribe_links,
            bounces=self.bounce_addresses,
            suppressions=self.suppressions,
        )

    async def queue_depths(self) -> dict[str, dict[str, dict[str, int]]]:
        """Messages waiting in the broker per channel and lane (empty without a broker to ask)."""
        if self._queue_depths is None:
            return {}
        depths: Any = await asyncio.to_thread(self._queue_depths)
        return dict(depths)

    @cached_property
    def saga(self) -> SagaReader:
        """How /saga/send reads commands; Mia's scripts compiled on first use (the API's start-up)."""
        return SagaReader(self.settings.saga)

    async def prepare_api(self) -> None:
        """What the API process needs before serving: Beanie bound to this loop's database, user indexes.

        Mia's saga scripts are compiled here, so a broken one stops the API at start-up.
        """
        self.saga  # noqa: B018 (compiles the scripts now)
        await init_beanie(database=self.store.db, document_models=[*ALL_DOCUMENTS, *FEEDBACK_DOCUMENTS])
        await self.store.ensure_user_indexes()
        await self.stats.minutes.ensure_indexes()
        if self.inbox is not None:
            await self.inbox.ensure_indexes()

    async def ping_database(self) -> None:
        """Raise if the database does not answer (the readiness probe)."""
        await self.store.ping()

    async def start_worker(
        self,
        sweep_interval: float | None = SWEEP_INTERVAL_SECONDS,
        schedule_interval: float | None = SCHEDULE_INTERVAL_SECONDS,
    ) -> None:
        """Start the channels and, unless disabled, the recovery sweep, the scheduler and the poster."""
        await self.registry.startup()
        self._channels_started = True
        if sweep_interval:
            self.sweeping.interval = sweep_interval
            self.sweeping.start()
        if schedule_interval:
            self.scheduling.interval = schedule_interval
            self.scheduling.start()
        if self.events.enabled:  # the poster only runs when webhooks are configured
            await self.events.ensure_indexes()
            self.posting.start()
        if schedule_interval:  # off in tests that drive the loops themselves
            self.feedback_loop.start()

    async def start_bounce_listener(self, host: str, port: int) -> BounceListener:
        """Listen for bounce mail on this loop (``tidings bounces``, ``tidings run``), feedback loop too."""
        listener = BounceListener(
            self.bounce_mail,
            host=host,
            port=port,
            max_message_bytes=self.settings.config.bounces.max_message_bytes,
        )
        await listener.start()
        self.bounce_listener = listener
        self.feedback_loop.start()
        return listener

    async def close(self) -> None:
        """Stop the loops and the channels, close the database client."""
        if self.bounce_listener is not None:
            await self.bounce_listener.stop()
            self.bounce_listener = None
        await self.feedback_loop.stop()
        await self.scheduling.stop()
        await self.posting.stop()
        await self.sweeping.stop()
        if self._channels_started:  # also when the sweep was disabled
            await self.registry.shutdown()
        if "saga" in self.__dict__:
            self.saga.close()
        if "delivery" in self.__dict__:  # built on first use: the API process never builds it
            self.delivery.close()
        await self.store.close()
        self.renderer.close()  # its checking process, if one was started
