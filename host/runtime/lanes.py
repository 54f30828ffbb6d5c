"""Priority lanes in the broker: one queue per channel and lane, and the threads each lane may use.

dramatiq consumes every declared queue at once and has no queue priorities, so the lanes are built from
three of its parts:

- **a queue and an actor per channel and lane** (``email.high``/``deliver_email_high``, ``email``/
  ``deliver_email`` for ``normal``, whose names predate lanes, and ``email.bulk``/``deliver_email_bulk``),
  each with an actor ``priority``: a worker process puts what its consumers fetched in one priority queue,
  and a free thread always takes ``high`` first;
- **a thread budget per lane** (:class:`LaneBudget`): a lane's consumer hands out a message only while
  the lanes at or below it have fewer in flight than their budget — ``normal`` and ``bulk`` together at
  most the process's threads minus ``lanes.reservedThreads``, ``bulk`` alone one fewer still — so a
  bulk dispatch never occupies every thread: the reserved ones are always free for ``high``, and one
  more is always left to ``normal``;
- **a short poll for ``high`` queues**: dramatiq's Redis consumer backs off to a second on an idle
  queue; a ``high`` queue is polled at least every :data:`HIGH_POLL_MS`.

The fan-out queue counts as ``normal``. :func:`queue_depths` reads how many messages wait per channel
and lane, for the console.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import dramatiq
from dramatiq.broker import Consumer, MessageProxy

from host.settings import DEFAULT_LANE, LANES, Lane, LanePolicy

__all__ = [
    "ACTOR_PRIORITY",
    "HIGH_POLL_MS",
    "LaneBudget",
    "LaneConsumer",
    "LaneThreads",
    "actor_name",
    "queue_depths",
    "queue_name",
]

#: dramatiq actor priorities (lower runs first among messages a worker process holds)
ACTOR_PRIORITY: dict[Lane, int] = {"high": 0, "normal": 10, "bulk": 20}
#: the longest a ``high`` queue goes unpolled when idle, in milliseconds
HIGH_POLL_MS = 100
#: how long a consumer whose lane is at its budget waits for a thread before it looks again
_BUDGET_WAIT_SECONDS = 0.1


def queue_name(channel: str, lane: Lane) -> str:
    """The broker queue of a channel's lane (``normal`` keeps the channel's name, as before lanes)."""
    return channel if lane == DEFAULT_LANE else f"{channel}.{lane}"


def actor_name(channel: str, lane: Lane) -> str:
    """The actor of a channel's lane."""
    return f"deliver_{channel}" if lane == DEFAULT_LANE else f"deliver_{channel}_{lane}"


class LaneBudget:
    """How many messages of each lane this process runs, and how many each lane may run.

    Budgets are nested: a lane's budget counts the messages of that lane and of the lanes below it
    (``normal``'s counts ``normal`` and ``bulk``), and a message may start only within its own lane's
    budget and every budget above it. ``high`` has no budget of its own
    (its consumers' prefetch bounds it). Until :meth:`configure` runs (no worker in this process),
    nothing is limited.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_flight: dict[Lane, int] = dict.fromkeys(LANES, 0)
        self.limits: dict[Lane, int | None] = dict.fromkeys(LANES, None)

    def configure(self, threads: int, reserved: int) -> None:
        """Budgets for a process of ``threads`` worker threads, ``reserved`` of them for ``high``."""
        normal = max(1, threads - reserved)
        with self._changed:
            self.limits = {"high": None, "normal": normal, "bulk": max(1, normal - 1)}

    def _below(self, lane: Lane) -> int:
        return sum(self._in_flight[other] for other in LANES[LANES.index(lane) :])

    def try_take(self, lane: Lane) -> bool:
        """Count one more message of ``lane`` in flight, if its budget and every budget above allow."""
        with self._changed:
            # a bulk message counts against bulk's budget and against normal's (normal and bulk together)
            for above in LANES[: LANES.index(lane) + 1]:
                limit = self.limits[above]
                if limit is not None and self._below(above) >= limit:
                    return False
            self._in_flight[lane] += 1
            return True

    def release(self, lane: Lane) -> None:
        """One message of ``lane`` is done (acknowledged or rejected)."""
        with self._changed:
            self._in_flight[lane] = max(0, self._in_flight[lane] - 1)
            self._changed.notify_all()

    def wait(self, seconds: float) -> None:
        """Block until a message is released or ``seconds`` pass."""
        with self._changed:
            self._changed.wait(seconds)

    def in_flight(self) -> dict[Lane, int]:
        """Messages of each lane in flight now."""
        with self._changed:
            return dict(self._in_flight)


class LaneConsumer(Consumer):
    """A broker consumer that hands out its queue's messages only within its lane's budget.

    It holds at most one fetched message while the budget is full (unacknowledged in the broker, like
    dramatiq's own prefetch), and takes the budget only when handing a message out, so a consumer
    waiting on an empty queue never holds a thread another lane could use.
    """

    def __init__(self, inner: Consumer, lane: Lane, budget: LaneBudget) -> None:
        self._inner = inner
        self._lane = lane
        self._budget = budget
        self._pending: MessageProxy | None = None

    def __next__(self) -> MessageProxy | None:
        if self._pending is None:
            self._pending = next(self._inner)
            if self._pending is None:
                return None
        if not self._budget.try_take(self._lane):
            self._budget.wait(_BUDGET_WAIT_SECONDS)
            return None
        message, self._pending = self._pending, None
        return message

    def ack(self, message: MessageProxy) -> None:
        try:
            self._inner.ack(message)
        finally:
            self._budget.release(self._lane)

    def nack(self, message: MessageProxy) -> None:
        try:
            self._inner.nack(message)
        finally:
            self._budget.release(self._lane)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        self._inner.requeue(messages)

    def close(self) -> None:
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                self._inner.requeue([pending])
        finally:
            self._inner.close()


class LaneThreads(dramatiq.Middleware):
    """Sets the process's lane budgets from its worker's thread count when the worker boots."""

    def __init__(self, budget: LaneBudget, policy: LanePolicy) -> None:
        self._budget = budget
        self._policy = policy

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        threads = worker.worker_threads
        self._budget.configure(threads, self._policy.reserved(threads))


def queue_depths(broker: Any, channels: Iterable[str]) -> dict[str, dict[str, dict[str, int]]]:
    """channel → lane → ``{"ready": n, "delayed": n}``: messages (batches of ids) waiting in the broker.

    ``ready`` wait for a worker now; ``delayed`` wait for their time (retries after a backoff). A
    message a worker has fetched is in neither. Works on the Redis broker and the in-memory one.
    """
    depths: dict[str, dict[str, dict[str, int]]] = {}
    for channel in channels:
        depths[channel] = {}
        for lane in LANES:
            name = queue_name(channel, lane)
            depths[channel][lane] = {"ready": _depth(broker, name), "delayed": _depth(broker, f"{name}.DQ")}
    return depths


def _depth(broker: Any, name: str) -> int:
    client = getattr(broker, "client", None)
    if client is not None:  # Redis: the queue is a list of message ids under the broker's namespace
        return int(client.llen(f"{broker.namespace}:{name}"))
    queue = getattr(broker, "queues", {}).get(name)
    return int(queue.qsize()) if queue is not None and hasattr(queue, "qsize") else 0
