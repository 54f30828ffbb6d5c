"""Lanes in a worker process: nested thread budgets, and a bulk flood that never takes every thread.

The worker is dramatiq's own, on its in-memory broker (the embedded mode's), with the lane consumers of
host.runtime.broker; the actors block until the test lets them go, so what runs at once is counted, not
timed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from host.runtime.broker import LaneStubBroker, register_lane_queue
from host.runtime.lanes import ACTOR_PRIORITY, LaneBudget, LaneThreads, actor_name, queue_depths, queue_name
from host.settings import Lane, LanePolicy
from tests.support.waiting import eventually_sync


def test_queue_and_actor_names_keep_the_normal_lane_as_it_was() -> None:
    assert [queue_name("email", lane) for lane in ("high", "normal", "bulk")] == [
        "email.high",
        "email",
        "email.bulk",
    ]
    assert actor_name("email", "normal") == "deliver_email"
    assert actor_name("sms", "high") == "deliver_sms_high"


def test_budgets_are_nested_high_is_unbounded_and_bulk_leaves_one_thread_to_normal() -> None:
    budget = LaneBudget()
    assert all(budget.try_take("bulk") for _ in range(50))  # no worker configured yet: no limit
    for _ in range(50):
        budget.release("bulk")
    budget.configure(threads=8, reserved=2)
    assert budget.limits == {"high": None, "normal": 6, "bulk": 5}
    assert [budget.try_take("bulk") for _ in range(6)] == [True] * 5 + [False]
    assert budget.try_take("normal")  # the sixth thread: normal only
    assert not budget.try_take("normal")  # the last two are high's
    assert all(budget.try_take("high") for _ in range(4))
    assert budget.in_flight() == {"high": 4, "normal": 1, "bulk": 5}
    budget.release("normal")
    assert not budget.try_take("bulk")  # a thread came free, but bulk is at its own budget
    assert budget.try_take("normal")
    assert not budget.try_take("normal")  # normal 1 + bulk 5 fill their six
    budget.release("bulk")
    assert budget.try_take("normal")  # a bulk message done: its thread may go to normal
    assert not budget.try_take("bulk")
    assert budget.in_flight() == {"high": 4, "normal": 2, "bulk": 4}


def test_a_tiny_process_still_runs_every_lane() -> None:
    budget = LaneBudget()
    budget.configure(threads=1, reserved=1)
    assert budget.limits == {"high": None, "normal": 1, "bulk": 1}


class Blocked:
    """Actors that wait until released, counting how many of each lane run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running: dict[Lane, int] = {"high": 0, "normal": 0, "bulk": 0}
        self.most: dict[Lane, int] = {"high": 0, "normal": 0, "bulk": 0}
        self.done: list[tuple[Lane, int]] = []

    def run(self, lane: Lane, number: int, *, wait: bool) -> None:
        with self.lock:
            self.running[lane] += 1
            self.most[lane] = max(self.most[lane], self.running[lane])
        try:
            if wait:
                assert self.release.wait(30), "the test never released the actors"
        finally:
            with self.lock:
                self.running[lane] -= 1
                self.done.append((lane, number))


@pytest.fixture
def lanes_broker() -> Iterator[tuple[LaneStubBroker, dict[Lane, Any], Blocked]]:
    broker = LaneStubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(LaneThreads(broker.lane_budget, LanePolicy(reserved_threads=1)))
    blocked = Blocked()
    actors: dict[Lane, Any] = {}
    for lane in ("high", "normal", "bulk"):
        queue = queue_name("test", lane)
        register_lane_queue(broker, queue, lane)

        def job(number: int, wait: bool, lane: Lane = lane) -> None:
            blocked.run(lane, number, wait=wait)

        actors[lane] = dramatiq.actor(
            job,
            actor_name=actor_name("test", lane),
            queue_name=queue,
            broker=broker,
            priority=ACTOR_PRIORITY[lane],
            max_retries=0,
        )
    yield broker, actors, blocked
    blocked.release.set()
    broker.close()


def test_a_bulk_flood_never_takes_every_thread_and_high_runs_on_a_reserved_one(
    lanes_broker: tuple[LaneStubBroker, dict[Lane, Any], Blocked],
) -> None:
    broker, actors, blocked = lanes_broker
    for number in range(10):
        actors["bulk"].send(number, True)
    assert queue_depths(broker, ["test"])["test"]["bulk"] == {"ready": 10, "delayed": 0}
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)  # reserved 1: normal 3, bulk 2
    worker.start()
    try:
        # two run and block; the lane's consumer fetches no more than its budget: eight wait in the broker
        eventually_sync(
            lambda: (blocked.running["bulk"], broker.queues["test.bulk"].qsize()),
            until=lambda seen: seen == (2, 8),
            timeout=10,
            what="two bulk messages running",
        )
        actors["normal"].send(1, False)
        actors["high"].send(1, False)
        # both run to the end while every bulk message is still blocked: threads were left for them
        eventually_sync(
            lambda: sorted(blocked.done), until=lambda d: d == [("high", 1), ("normal", 1)], timeout=10,
            what="the normal and the high message done",
        )  # fmt: skip
        assert blocked.running["bulk"] == 2
        blocked.release.set()
        eventually_sync(lambda: len(blocked.done), until=lambda n: n == 12, timeout=20, what="all done")
        worker.join()
    finally:
        worker.stop()
    assert blocked.most == {"high": 1, "normal": 1, "bulk": 2}
    assert broker.lane_budget.in_flight() == {"high": 0, "normal": 0, "bulk": 0}


def test_of_what_a_worker_holds_high_runs_first_even_when_it_came_later(
    lanes_broker: tuple[LaneStubBroker, dict[Lane, Any], Blocked],
) -> None:
    broker, actors, blocked = lanes_broker
    actors["high"].send(0, True)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        eventually_sync(lambda: blocked.running["high"], until=lambda n: n == 1, timeout=10, what="high")
        actors["normal"].send(1, False)  # within normal's budget: handed to the worker, waits for the thread
        eventually_sync(lambda: worker.work_queue.qsize(), until=lambda n: n == 1, timeout=10, what="normal")
        actors["high"].send(2, False)
        eventually_sync(lambda: worker.work_queue.qsize(), until=lambda n: n == 2, timeout=10, what="both")
        blocked.release.set()
        eventually_sync(lambda: len(blocked.done), until=lambda n: n == 3, timeout=20, what="all done")
    finally:
        worker.stop()
    assert blocked.done == [("high", 0), ("high", 2), ("normal", 1)]
