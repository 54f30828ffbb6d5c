"""Each dispatch gets its lane when accepted (or when its clusters are counted), and every delivery keeps it:
through a retry, an early hand-out, the recovery sweep, the outbox, the scheduler and a staff retry.

The services run on the test's loop with a stand-in broker that notes each batch's lane
(tests.support.lanes); sends go to the session's SMTP sink.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from host.dispatch.schemas import SendRequest
from host.settings import LanePolicy
from host.storage.documents import utcnow
from tests.support.enqueued import add_cluster
from tests.support.lanes import Services, services
from tests.support.stacks import Stack


def request(recipients: list[str] | None = None, **fields: Any) -> SendRequest:
    fields.setdefault("message_title", "T")
    fields.setdefault("message_content", "C")
    return SendRequest(channels=["email"], recipients=recipients, **fields)


async def users(stack: Stack, unique: Callable[[str], str], count: int, group: str = "u") -> list[str]:
    ids = [unique(f"{group}{i}") for i in range(count)]
    await stack.add_users(*({"fiscalCode": uid, "mail": f"{uid}@example.org"} for uid in ids))
    return ids


async def lanes_stored(s: Services, dispatch_id: str) -> tuple[Any, set[str]]:
    dispatch = await s.dispatcher._expansion._store.dispatches.find_one({"_id": dispatch_id})
    deliveries = s.dispatcher._expansion._store.deliveries.find({"dispatch_id": dispatch_id}, {"priority": 1})
    return dispatch["priority"], {doc["priority"] async for doc in deliveries}


async def test_the_lane_is_asked_for_or_follows_the_template_or_the_audience_size(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    s = services(stack, lanes=LanePolicy(bulk_above=3))
    three, four = await users(stack, unique, 3, "three"), await users(stack, unique, 4, "four")
    created = await stack.client.post(
        "/templates",
        json={"name": unique("otp"), "emailTitle": "Code", "emailMessage": "42", "category": "transactional"},
    )
    assert created.status_code in (200, 201), created.text
    cases = {
        "normal": request(three),
        "bulk": request(four),  # above lanes.bulkAbove
        "high": request(four, template_id=created.json()["id"], message_title=None, message_content=None),
    }
    cases["asked"] = request(four, priority="normal")  # asked for: wins over the size
    for expected, body in cases.items():
        accepted = await s.dispatcher.accept(body)
        lane = "normal" if expected == "asked" else expected
        assert await lanes_stored(s, accepted.dispatch_id) == (lane, {lane}), expected
        ids = [d["_id"] async for d in stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id})]
        assert set(s.enqueued.lanes_of(ids).values()) == {lane}, expected


async def test_a_clusters_lane_is_counted_in_the_request_or_by_the_fan_out_before_any_delivery(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    s = services(stack, lanes=LanePolicy(bulk_above=3))
    big, small = unique("big"), unique("small")
    await add_cluster(stack, big, 5)
    await add_cluster(stack, small, 3)
    for cluster, lane in ((big, "bulk"), (small, "normal")):
        # sent now: the capped count that decides the expansion in the request decides the lane too
        now = await s.dispatcher.accept(request(clusters=[cluster]))
        assert await lanes_stored(s, now.dispatch_id) == (lane, {lane})
        # sent later: nothing is counted until it starts; the fan-out counts, then writes the deliveries
        send_at = datetime.now(UTC) + timedelta(hours=1)
        later = await s.dispatcher.accept(request(clusters=[cluster], send_at=send_at.isoformat()))
        stored = await stack.db["dispatches"].find_one({"_id": later.dispatch_id})
        assert stored["priority"] is None
        started, _ = await s.scheduler.start_due(now=send_at + timedelta(seconds=1))
        assert later.dispatch_id in started and s.expansions[-1] == later.dispatch_id
        await s.dispatcher.expand(later.dispatch_id)
        assert await lanes_stored(s, later.dispatch_id) == (lane, {lane})
        for dispatch_id in (now.dispatch_id, later.dispatch_id):
            ids = [d["_id"] async for d in stack.db["deliveries"].find({"dispatch_id": dispatch_id})]
            assert len(ids) == (5 if cluster == big else 3)
            assert set(s.enqueued.lanes_of(ids).values()) == {lane}


async def test_a_retry_and_an_early_hand_out_stay_in_the_lane(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    s = services(stack)
    [uid] = await users(stack, unique, 1)
    accepted = await s.dispatcher.accept(request([uid], priority="high"))
    [delivery_id] = s.enqueued.ids
    assert s.enqueued.batches == [("email", "high", 0, [delivery_id])]

    stack.sink.script(["451 4.3.0 Try again later"])
    await s.worker.deliver("email", [delivery_id], "high")
    doc = await stack.db["deliveries"].find_one({"_id": delivery_id})
    assert (doc["status"], doc["attempts"], doc["priority"]) == ("queued", 1, "high")
    channel, lane, delay, ids = s.enqueued.batches[-1]
    assert (channel, lane, ids) == ("email", "high", [delivery_id]) and delay > 0  # after its backoff

    # handed out 40 ms before it is due (a worker's clock, a duplicate message): back to its lane, later
    await s.worker.deliver("email", [delivery_id], "high", now=doc["due_at"] - timedelta(milliseconds=40))
    assert s.enqueued.batches[-1] == ("email", "high", 40, [delivery_id])
    await s.worker.deliver("email", [delivery_id], "high", now=doc["due_at"])
    assert (await stack.db["deliveries"].find_one({"_id": delivery_id}))["status"] == "sent"
    assert len(stack.mails_to(f"{uid}@example.org")) == 1
    assert accepted.dispatch_id in delivery_id


async def test_the_sweep_the_outbox_the_scheduler_and_a_staff_retry_keep_the_lane(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    s = services(stack)
    lost, refused, later, failing = await users(stack, unique, 4)

    # a batch whose broker message was lost: the sweep hands it out again, to its lane
    await s.dispatcher.accept(request([lost], priority="bulk"))
    [lost_id] = s.enqueued.ids
    await s.sweep.run_once(queued_older_than=60, now=utcnow() + timedelta(minutes=2))
    handed = [lane for _, lane, _, ids in s.enqueued.batches if lost_id in ids]
    assert handed == ["bulk", "bulk"]  # when accepted, and again by the sweep

    # a batch the broker refused: written down with its lane, sent by the outbox's flush
    s.enqueued.down = True
    await s.dispatcher.accept(request([refused], priority="high"))
    s.enqueued.down = False
    # a second on: the entry may be stored within the same millisecond (BSON dates keep milliseconds)
    assert await s.outbox.flush_stale(0, now=utcnow() + timedelta(seconds=1)) >= 1
    refused_id = next(i for i in s.enqueued.ids if refused in i)
    assert s.enqueued.lanes_of([refused_id]) == {refused_id: "high"}

    # a scheduled send starts in its lane
    send_at = datetime.now(UTC) + timedelta(hours=1)
    scheduled = await s.dispatcher.accept(request([later], priority="high", send_at=send_at.isoformat()))
    started, _ = await s.scheduler.start_due(now=send_at + timedelta(seconds=1))
    assert scheduled.dispatch_id in started
    await s.dispatcher.expand(scheduled.dispatch_id)
    later_id = f"{scheduled.dispatch_id}:email:{later}"
    assert s.enqueued.lanes_of([later_id]) == {later_id: "high"}

    # a permanent failure retried by staff goes back to its lane
    stack.sink.refuse(f"{failing}@example.org")
    try:
        await s.dispatcher.accept(request([failing], priority="bulk"))
        failing_id = next(i for i in s.enqueued.ids if failing in i)
        await s.worker.deliver("email", [failing_id], "bulk")
    finally:
        stack.sink.reset()
    doc = await stack.db["deliveries"].find_one({"_id": failing_id})
    assert doc["status"] == "failed"
    assert await s.dispatches.retry([doc]) == [failing_id]
    assert s.enqueued.batches[-1] == ("email", "bulk", 0, [failing_id])
