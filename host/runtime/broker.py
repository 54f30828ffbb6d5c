"""The broker: dramatiq on Redis, or a StubBroker with in-process workers for the embedded mode.

Both consume the priority lanes' queues through :class:`~host.runtime.lanes.LaneConsumer` (the lanes'
thread budgets) and poll ``high`` queues often (host.runtime.lanes). The actors' event loop is uvloop's
where it is installed (:class:`UvloopAsyncIO`). Messages are JSON, as dramatiq writes them, encoded and
decoded by msgspec (:class:`MsgspecJSONEncoder`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import dramatiq
import msgspec
from dramatiq.asyncio import EventLoopThread, set_event_loop_thread
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import Encoder, MessageData
from dramatiq.message import Message
from dramatiq.middleware import AsyncIO
from redis.exceptions import NoScriptError

from host.runtime.lanes import HIGH_POLL_MS, LaneBudget, LaneConsumer
from host.settings import Lane

__all__ = [
    "LaneRedisBroker",
    "LaneStubBroker",
    "MsgspecJSONEncoder",
    "UvloopAsyncIO",
    "create_broker",
    "enqueue_many",
    "lane_budget",
    "register_lane_queue",
]


class _LaneConsuming:
    """Wraps the consumers of lane queues (registered by the actors) in their lane's budget."""

    lane_budget: LaneBudget
    lane_queues: dict[str, Lane]

    def _init_lanes(self) -> None:
        self.lane_budget = LaneBudget()
        self.lane_queues = {}

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        lane = self.lane_queues.get(queue_name)  # None: a delay queue, or not a lane's
        if lane == "high":
            timeout = min(timeout, HIGH_POLL_MS)
        elif lane is not None:
            limit = self.lane_budget.limits[lane]
            prefetch = prefetch if limit is None else max(1, min(prefetch, limit))
        inner: Consumer = super().consume(queue_name, prefetch=prefetch, timeout=timeout)  # type: ignore[misc]
        return inner if lane is None else LaneConsumer(inner, lane, self.lane_budget)


class _PipelinedScript:
    """dramatiq's ``dispatch`` script, run in this thread's pipeline while :meth:`LaneRedisBroker.
    enqueue_many` fills one (elsewhere, and in every other thread, as before).

    In the pipeline it is called by its SHA alone: a script registered on a redis-py pipeline makes every
    ``execute()`` ask ``SCRIPT EXISTS`` first, a round trip of its own (a two-message hand-over's CPU
    330-393 µs with it, 214-291 without, measured interleaved). A Redis that lacks the script (restarted,
    its scripts flushed) answers those calls NOSCRIPT: :meth:`finish` loads it and runs them again.
    """

    def __init__(self, script: Any) -> None:
        self._script = script
        self.local = threading.local()

    def __call__(self, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        pipeline = getattr(self.local, "pipeline", None) if client is None else None
        if pipeline is None:
            return self._script(keys=keys, args=args, client=client)
        keys, args = list(keys or ()), list(args or ())
        self.local.calls.append((keys, args))
        return pipeline.evalsha(self._script.sha, len(keys), *keys, *args)

    def fill(self, pipeline: Any) -> None:
        """Queue this thread's calls in ``pipeline`` until :meth:`drain`."""
        self.local.pipeline, self.local.calls = pipeline, []

    def drain(self) -> list[tuple[list[Any], list[Any]]]:
        """Stop queueing in the pipeline; returns the calls queued (keys, args), in order."""
        calls, self.local.pipeline, self.local.calls = self.local.calls, None, []
        return calls  # type: ignore[no-any-return]

    def finish(self, calls: Sequence[tuple[list[Any], list[Any]]], results: Sequence[Any]) -> None:
        """After ``execute(raise_on_error=False)``: raise the first error but NOSCRIPT, as ``execute()``
        would, then run the calls refused for want of the script again, loading it as redis-py does."""
        missing = []
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, NoScriptError):
                missing.append(call)
            elif isinstance(result, Exception):
                raise result
        if missing:
            again = self._script.registered_client.pipeline(transaction=False)
            for keys, args in missing:
                self._script(keys=keys, args=args, client=again)  # registered: SCRIPT EXISTS, LOAD
            again.execute()


class LaneRedisBroker(_LaneConsuming, RedisBroker):
    """dramatiq's Redis broker, consuming the lanes within their budgets."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self._init_lanes()
        # every command of the broker goes through this script (dramatiq's `_dispatch`)
        self._dispatch_script = self.scripts["dispatch"] = _PipelinedScript(self.scripts["dispatch"])

    def close(self) -> None:
        """Close the Redis connections (dramatiq's ``close`` leaves them to the garbage collector).

        The broker and its actors refer to each other, so only the cyclic collector frees them, at some
        later moment and in no set order: a socket finalized before its redis-py connection warns
        ``ResourceWarning: unclosed <socket.socket ...>`` in whatever test runs then.
        """
        super().close()
        self.client.connection_pool.disconnect()

    def enqueue_many(self, messages: Sequence[tuple[Message[Any], int | None]]) -> None:
        """``enqueue`` each (message, delay in ms), in one round trip to Redis.

        A fan-out hands over a message per 100 ids: its hand-over thread spent 2.8-2.9 µs of CPU per
        delivery with a round trip per message, 1.4-1.7 µs with one per batch of 2,000 ids
        (bench.fanout). ``enqueue`` itself runs for each (its ids, delays, middleware hooks), only its
        Redis command is queued; an error in the round trip raises here, as it would from ``enqueue``
        (some messages may be in Redis then: claims make a resend safe).
        """
        pipeline = self.client.pipeline(transaction=False)
        script = self._dispatch_script
        script.fill(pipeline)
        try:
            for message, delay in messages:
                self.enqueue(message, delay=delay)
        finally:
            calls = script.drain()
        script.finish(calls, pipeline.execute(raise_on_error=False))


class LaneStubBroker(_LaneConsuming, StubBroker):
    """dramatiq's in-memory broker (the embedded mode), consuming the lanes within their budgets."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._init_lanes()


class UvloopAsyncIO(AsyncIO):
    """dramatiq's AsyncIO middleware with its event loop on uvloop (installed with Tidings off Windows).

    uvloop is the loop ``tidings api`` serves on (uvicorn picks it); for the workers it measured 5-7%
    less CPU per e-mail (median of ten rounds, bench-style delivery on one loop). Without uvloop: asyncio.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            import uvloop
        except ImportError:  # Windows
            super().before_worker_boot(broker, worker)  # type: ignore[no-untyped-call]
            return
        thread = EventLoopThread(self.logger)
        thread.loop.close()  # the asyncio loop it made, never run
        thread.loop = uvloop.new_event_loop()
        thread.start(timeout=1.0)
        set_event_loop_thread(thread)


class MsgspecJSONEncoder(Encoder):
    """dramatiq's message JSON through msgspec: the same JSON (either reads the other's), encoded in a
    fraction of the time. A message carries up to a few hundred delivery ids: dramatiq's ``json.dumps``
    took 20-50 µs of a 200-id message's 100-140 µs of enqueueing CPU (the broker hand-over's thread, in
    the API and the fan-out), and every worker decodes what it takes."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def encode(self, data: MessageData) -> bytes:
        return self._encoder.encode(data)

    def decode(self, data: bytes) -> MessageData:
        """The message's fields; a malformed one raises (``Message.decode`` makes it a DecodeError)."""
        decoded: MessageData = self._decoder.decode(data)
        return decoded


def create_broker(redis_url: str | None) -> dramatiq.Broker:
    """A Redis broker when a URL is given, else an in-memory one (safe thanks to the outbox); dramatiq's
    encoder (one for the process, as its broker is) becomes :class:`MsgspecJSONEncoder`."""
    dramatiq.set_encoder(MsgspecJSONEncoder())
    broker: dramatiq.Broker
    if redis_url:
        broker = LaneRedisBroker(url=redis_url)
    else:
        broker = LaneStubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(UvloopAsyncIO())
    return broker


def enqueue_many(broker: dramatiq.Broker, messages: Sequence[tuple[Message[Any], int | None]]) -> None:
    """Enqueue (message, delay in ms) pairs: in one round trip on a :class:`LaneRedisBroker`."""
    if isinstance(broker, LaneRedisBroker):
        broker.enqueue_many(messages)
        return
    for message, delay in messages:
        broker.enqueue(message, delay=delay)


def lane_budget(broker: dramatiq.Broker) -> LaneBudget | None:
    """The broker's lane budgets (None for a broker not made by :func:`create_broker`)."""
    return getattr(broker, "lane_budget", None)


def register_lane_queue(broker: dramatiq.Broker, queue: str, lane: Lane) -> None:
    """Consume ``queue`` as a queue of ``lane`` (a no-op on a broker not made by :func:`create_broker`)."""
    queues: dict[str, Lane] | None = getattr(broker, "lane_queues", None)
    if queues is not None:
        queues[queue] = lane
