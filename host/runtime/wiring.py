"""The wiring of one event loop: store, channels, renderer, outbox and the services built on them.

The API's loop and each worker's loop build their own Runtime: a MongoDB async client belongs to the
loop that created it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from host.delivery.worker import DeliveryWorker
from host.dispatch.accept import DispatchService
from host.dispatch.outbox import Enqueue, Outbox
from host.dispatch.recovery import RecoverySweep
from host.dispatch.scheduling import SCHEDULE_INTERVAL_SECONDS, Scheduler
from host.events.log import EventLog
from host.events.webhooks import WebhookPoster
from host.plugins.registry import ChannelRegistry
from host.runtime.background import BackgroundLoop
from host.settings import Settings
from host.storage.store import Store
from host.templates.rendering import Renderer

__all__ = ["Runtime"]


class Runtime:
    """Everything the API or a worker needs, bound to the current event loop."""

    def __init__(
        self, settings: Settings, enqueue: Enqueue, schedule_expansion: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.store = Store.connect(settings)
        self.registry = ChannelRegistry.build(settings.config, settings.environ)
        self.renderer = Renderer(
            default_locale=settings.config.default_locale,
            default_timezone=settings.config.default_timezone,
            inline_syntax=settings.config.template_syntax,
        )
        batch_sizes = {name: channel.limits.batch_size for name, channel in self.registry.items()}
        self.outbox = Outbox(self.store, enqueue, batch_sizes)
        self.dispatch = DispatchService(
            self.store, settings, self.registry, self.renderer, self.outbox, schedule_expansion
        )
        self.events = EventLog(self.store, settings)
        self.sweep = RecoverySweep(self.store, self.outbox, schedule_expansion, settings.config.delivery)
        self._sweeping = BackgroundLoop("tidings-recovery-sweep")
        self._channels_started = False
        self.scheduler = Scheduler(self.store, schedule_expansion)
        self.webhooks = WebhookPoster(self.events)

    @cached_property
    def delivery(self) -> DeliveryWorker:
        """The delivery worker, built on first use.

        The API process never sends, so it never builds the rate limiters, provider chains and
        attachment fetcher that the worker holds.
        """
        return DeliveryWorker(
            self.store, self.settings, self.registry, self.renderer, self.outbox, events=self.events
        )

    async def start_worker(
        self, sweep_interval: float | None = 5.0, schedule_interval: float | None = SCHEDULE_INTERVAL_SECONDS
    ) -> None:
        """Start the channels and, unless disabled, the periodic recovery sweep and the scheduler."""
        await self.registry.startup()
        self._channels_started = True
        if sweep_interval:
            self._sweeping.start(lambda: self.sweep.run_forever(sweep_interval))
        if schedule_interval:
            self.scheduler.start(schedule_interval)
        await self.webhooks.start()  # only when webhooks are configured

    async def close(self) -> None:
        """Stop the scheduler, the sweep and the channels, close the database client."""
        await self.scheduler.stop()
        await self.webhooks.stop()
        await self._sweeping.stop()
        if self._channels_started:  # also when the sweep was disabled
            await self.registry.shutdown()
        await self.store.close()
