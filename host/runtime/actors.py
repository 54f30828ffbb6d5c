"""The actors, declared by the host: one per registered channel and priority lane, and the fan-out.

``deliver_<channel>`` (queue ``<channel>``) is the ``normal`` lane, ``deliver_<channel>_high`` and
``deliver_<channel>_bulk`` (queues ``<channel>.high``, ``<channel>.bulk``) the others; host.runtime.lanes
says how a worker serves them. Messages carry ids, never documents. Each worker process builds its
Runtime on dramatiq's event-loop thread before it takes any message (``before_worker_boot``) and closes
it at shutdown, once the messages being handled are done (``after_worker_shutdown``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread

from host.dispatch.outbox import Batch
from host.runtime.broker import enqueue_many, lane_budget, register_lane_queue
from host.runtime.collector import settle_collector
from host.runtime.lanes import ACTOR_PRIORITY, LaneThreads, actor_name, queue_depths, queue_name
from host.runtime.logs import log_context
from host.runtime.wiring import Runtime
from host.settings import DEFAULT_LANE, LANES, Lane, Settings

__all__ = ["FANOUT_QUEUE", "Actors", "declare_actors", "event_loop_thread"]

log = logging.getLogger(__name__)

FANOUT_QUEUE = "fanout"
# failures that are not a channel's verdict (database restarting, a bug) retry the whole message:
# claims make that safe
_RETRY_OPTIONS: dict[str, Any] = {"max_retries": 100, "min_backoff": 500, "max_backoff": 30_000}


def event_loop_thread() -> EventLoopThread:
    """dramatiq's event-loop thread of this worker process (started by the AsyncIO middleware)."""
    thread = get_event_loop_thread()
    if thread is None:
        raise RuntimeError("dramatiq's AsyncIO middleware has not started its event loop")
    return thread


class Actors:
    """The declared actors and the two ways the host hands work to them."""

    def __init__(
        self,
        broker: dramatiq.Broker,
        settings: Settings,
        channel_names: Iterable[str],
        *,
        sweep_interval: float | None = 5.0,
        inbox: bool = False,
    ) -> None:
        self.broker = broker
        self.settings = settings
        #: whether the runtimes capture unconfigured channels in the inbox (the embedded mode only)
        self.inbox = inbox
        self.runtime: Runtime | None = None
        #: channel → lane → its actor
        self.lanes: dict[str, dict[Lane, dramatiq.Actor[Any, Any]]] = {}
        for name in channel_names:
            self.lanes[name] = {lane: self._declare_delivery(name, lane) for lane in LANES}
        #: channel → the ``normal`` lane's actor (``deliver_<channel>``, as before lanes)
        self.deliver: dict[str, dramatiq.Actor[Any, Any]] = {
            name: lanes[DEFAULT_LANE] for name, lanes in self.lanes.items()
        }
        register_lane_queue(broker, FANOUT_QUEUE, "normal")  # a fan-out never takes a reserved thread
        self.expand: dramatiq.Actor[Any, Any] = dramatiq.actor(  # type: ignore[call-overload]
            self._expand,
            actor_name="expand_dispatch",
            queue_name=FANOUT_QUEUE,
            broker=broker,
            time_limit=3_600_000,
            priority=ACTOR_PRIORITY["normal"],
            **_RETRY_OPTIONS,
        )
        budget = lane_budget(broker)
        if budget is not None:
            broker.add_middleware(LaneThreads(budget, settings.config.lanes))
        broker.add_middleware(_WorkerRuntime(self, sweep_interval))

    def _declare_delivery(self, name: str, lane: Lane) -> dramatiq.Actor[Any, Any]:
        async def deliver(ids: list[str]) -> None:
            with log_context(channel=name, delivery_ids=ids):
                await self.worker_runtime().delivery.deliver(name, ids, lane)

        deliver.__name__ = actor_name(name, lane)
        queue = queue_name(name, lane)
        register_lane_queue(self.broker, queue, lane)
        return dramatiq.actor(  # type: ignore[no-any-return,call-overload]
            deliver,
            actor_name=actor_name(name, lane),
            queue_name=queue,
            broker=self.broker,
            priority=ACTOR_PRIORITY[lane],
            **_RETRY_OPTIONS,
        )

    async def _expand(self, dispatch_id: str) -> None:
        with log_context(dispatch_id=dispatch_id):
            await self.worker_runtime().dispatch.expand(dispatch_id)

    def worker_runtime(self) -> Runtime:
        """The runtime of this worker's event loop."""
        if self.runtime is None:
            raise RuntimeError("the worker runtime is not started (before_worker_boot did not run)")
        return self.runtime

    def new_runtime(self) -> Runtime:
        """A Runtime for the calling event loop that enqueues through these actors."""
        return Runtime(
            self.settings,
            self.enqueue_delivery,
            self.schedule_expansion,
            enqueue_many=self.enqueue_deliveries,
            queue_depths=self.queue_depths,
            inbox=self.inbox,
        )

    def queue_depths(self) -> dict[str, dict[str, dict[str, int]]]:
        """Messages waiting in the broker per channel and lane (blocking: the broker is asked)."""
        return queue_depths(self.broker, self.lanes)

    def enqueue_delivery(
        self, channel: str, ids: list[str], delay_ms: int, lane: Lane = DEFAULT_LANE
    ) -> None:
        """Hand one batch of delivery ids to the actor of the channel's lane."""
        self.lanes[channel][lane].send_with_options(args=(ids,), delay=delay_ms or None)

    def enqueue_deliveries(self, batches: Sequence[Batch]) -> None:
        """:meth:`enqueue_delivery` of each batch, in one round trip to the broker."""
        enqueue_many(
            self.broker,
            [
                (self.lanes[channel][lane].message_with_options(args=(ids,)), delay_ms or None)
                for channel, ids, delay_ms, lane in batches
            ],
        )

    def schedule_expansion(self, dispatch_id: str) -> None:
        """Hand a dispatch to the fan-out actor."""
        self.expand.send(dispatch_id)


class _WorkerRuntime(dramatiq.Middleware):
    """Builds the worker's Runtime on dramatiq's event-loop thread before messages run."""

    def __init__(self, actors: Actors, sweep_interval: float | None) -> None:
        self._actors = actors
        self._sweep_interval = sweep_interval

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        async def boot() -> None:
            runtime = self._actors.new_runtime()
            await runtime.start_worker(self._sweep_interval)
            self._actors.runtime = runtime
            settle_collector()  # start-up's objects frozen, young collections rarer (host.runtime.collector)

        event_loop_thread().run_coroutine(boot())

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Close the runtime once the worker's threads are joined, so messages still being handled finish
        on it (closed before, an actor mid-batch reopened the database client, whose new connection only
        the garbage collector closed). dramatiq calls ``after_`` hooks in reverse order: this one runs
        before the AsyncIO middleware stops the event-loop thread."""
        runtime, self._actors.runtime = self._actors.runtime, None
        if runtime is not None:
            event_loop_thread().run_coroutine(runtime.close())


def declare_actors(
    broker: dramatiq.Broker, settings: Settings, *, sweep_interval: float | None = 5.0, inbox: bool = False
) -> Actors:
    """Declare every active channel's actor and the fan-out actor on this broker.

    ``inbox`` is for the embedded mode alone: channels with no provider configured are captured there.
    """
    return Actors(
        broker, settings, settings.config.active_channels, sweep_interval=sweep_interval, inbox=inbox
    )
