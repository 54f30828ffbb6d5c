"""The dispatch service's grouped writes: concurrent sends written together, each failure its own job's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.errors import BulkWriteError

from host.audience.opt_outs import opt_out_id
from host.audience.planning import DeliveryPlanner, Failure
from host.audience.users import user_projection
from host.dispatch.outbox import Outbox
from host.dispatch.schemas import SendRequest
from host.dispatch.writes import DispatchWrites, ExpansionInterrupted, ListedSend
from host.storage.documents import utcnow
from tests.support.enqueued import Enqueued, add_cluster
from tests.support.stacks import Stack, dispatcher


async def test_concurrent_sends_are_written_in_groups_and_each_gets_its_own_answer(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("many")
    users = await add_cluster(stack, group, 30)
    enqueued = Enqueued()
    service = dispatcher(stack, enqueued)
    requests = [
        SendRequest(
            channels=["email"], recipients=[uid, f"{uid}-unknown"], message_title="t", message_content="c"
        )
        for uid in users
    ]
    answers = await asyncio.gather(*(service.accept(request) for request in requests))

    for uid, answer in zip(users, answers, strict=True):
        assert [(f.user_id, f.channel) for f in answer.failures] == [(f"{uid}-unknown", "email")]
        stored = await stack.db["deliveries"].find({"dispatch_id": answer.dispatch_id}).to_list(None)
        assert {d["user_id"]: d["status"] for d in stored} == {uid: "queued", f"{uid}-unknown": "skipped"}
        dispatch = await stack.db["dispatches"].find_one({"_id": answer.dispatch_id})
        assert dispatch is not None and dispatch["state"] == "expanded"
    expected = [f"{answer.dispatch_id}:email:{uid}" for uid, answer in zip(users, answers, strict=True)]
    assert sorted(enqueued.ids) == sorted(expected)
    assert enqueued.messages < len(users)  # handed over together, not one message per request


async def test_a_grouped_insert_fails_only_the_job_it_hit(stack: Stack, unique: Callable[[str], str]) -> None:
    writes = DispatchWrites(stack.runtime.store, stack.runtime.outbox, stack.runtime.opt_outs)
    now = utcnow()

    def dispatch(doc_id: str) -> dict[str, Any]:
        return {"_id": doc_id, "channels": ["email"], "state": "expanded", "created_at": now}

    taken = unique("taken")
    await stack.db["dispatches"].insert_one(dispatch(taken))
    fresh = [unique(f"fresh{i}") for i in range(3)]
    outcomes = await asyncio.gather(
        *(writes.insert_dispatch(dispatch(doc_id)) for doc_id in [fresh[0], taken, *fresh[1:]]),
        return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "BulkWriteError", "NoneType", "NoneType"]
    assert await stack.db["dispatches"].count_documents({"_id": {"$in": fresh}}) == 3
    # deliveries met again (a resumed expansion) are not an error
    doc = {
        "_id": f"{taken}:email:u",
        "dispatch_id": taken,
        "channel": "email",
        "user_id": "u",
        "address": None,
        "status": "skipped",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    await writes.insert_deliveries([doc])
    await writes.insert_deliveries([doc])


def _listed(stack: Stack, dispatch_id: str, recipients: list[str], **projection: int) -> ListedSend:
    """A listed send on e-mail as host.dispatch.expansion builds it (``projection`` replaces the real one)."""
    channels = [("email", stack.runtime.registry["email"])]
    doc = {"_id": dispatch_id, "channels": ["email"], "state": "expanding", "created_at": utcnow()}
    return ListedSend(
        doc,
        recipients,
        DeliveryPlanner(dispatch_id, channels, stack.fields, priority="normal"),
        projection or user_projection(stack.fields, [channel for _, channel in channels]),
        [opt_out_id(uid, "email") for uid in recipients],
    )


async def test_listed_sends_go_through_every_step_together_and_a_refused_one_fails_alone(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    users = await add_cluster(stack, unique("listed"), 3)
    await stack.runtime.opt_outs.record(users[1], "email", "api")
    enqueued = Enqueued()
    writes = DispatchWrites(
        stack.runtime.store, Outbox(stack.runtime.store, enqueued, {"email": 50}), stack.runtime.opt_outs
    )
    taken = unique("taken")
    # an expanded dispatch of the shared stack's (not a scheduled one: its scheduler would pick it up)
    await stack.db["dispatches"].insert_one({"_id": taken, "state": "expanded", "channels": ["email"]})
    # its own delivery, which the refused job's deliveries (inserted before its dispatch) meet again
    await stack.db["deliveries"].insert_one({"_id": f"{taken}:email:{users[0]}", "dispatch_id": taken})
    fresh = [unique(f"listed{i}") for i in range(3)]
    jobs = [_listed(stack, fresh[0], [users[0], "nobody"]), _listed(stack, taken, [users[0], users[2]])]
    jobs += [_listed(stack, fresh[1], [users[1]]), _listed(stack, fresh[2], [users[2], users[0]])]

    outcomes = await asyncio.gather(*(writes.send_listed(job) for job in jobs), return_exceptions=True)

    assert isinstance(outcomes[1], BulkWriteError)  # its dispatch was not stored: that caller fails
    assert outcomes[0] == [Failure(user_id="nobody", channel="email", error="no user with id 'nobody'")]
    assert outcomes[2] == [Failure(user_id=users[1], channel="email", error="the user opted out of email")]
    assert outcomes[3] == []
    assert "expanded_at" not in (await stack.db["dispatches"].find_one({"_id": taken}))  # not marked by this
    # the refused job's own delivery is deleted again; the one that was there is not its to delete
    taken_deliveries = await stack.db["deliveries"].find({"dispatch_id": taken}).to_list(None)
    assert [d["_id"] for d in taken_deliveries] == [f"{taken}:email:{users[0]}"]
    for dispatch_id in fresh:
        dispatch = await stack.db["dispatches"].find_one({"_id": dispatch_id})
        assert dispatch is not None and dispatch["state"] == "expanded"
    stored = await stack.db["deliveries"].find({"dispatch_id": {"$in": fresh}}).to_list(None)
    assert {d["_id"]: d["status"] for d in stored} == {
        f"{fresh[0]}:email:{users[0]}": "queued",
        f"{fresh[0]}:email:nobody": "skipped",
        f"{fresh[1]}:email:{users[1]}": "skipped",
        f"{fresh[2]}:email:{users[2]}": "queued",
        f"{fresh[2]}:email:{users[0]}": "queued",
    }
    assert sorted(enqueued.ids) == sorted(d["_id"] for d in stored if d["status"] == "queued")
    assert enqueued.messages == 1  # the group's queued deliveries in one message


async def test_a_listed_send_stored_but_not_expanded_is_left_for_the_recovery_sweep(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    enqueued = Enqueued()
    writes = DispatchWrites(
        stack.runtime.store, Outbox(stack.runtime.store, enqueued, {"email": 50}), stack.runtime.opt_outs
    )
    dispatch_id = unique("interrupted")
    # a projection the database refuses: the users' read fails after the dispatch is stored
    with pytest.raises(ExpansionInterrupted) as raised:
        await writes.send_listed(_listed(stack, dispatch_id, ["someone"], mail=1, groups=0))
    assert "exclusion" in str(raised.value.__cause__) and raised.value.failures == []
    dispatch = await stack.db["dispatches"].find_one({"_id": dispatch_id})
    assert dispatch is not None and dispatch["state"] == "expanding"  # the sweep restarts it when stalled
    assert await stack.db["deliveries"].count_documents({"dispatch_id": dispatch_id}) == 0
    assert enqueued.ids == []


class _CheckingOutbox(Outbox):
    """An outbox that notes each handed dispatch's stored state at the moment the broker hears of it."""

    def __init__(self, stack: Stack, enqueued: Enqueued) -> None:
        super().__init__(stack.runtime.store, enqueued, {"email": 50})
        self.db = stack.db
        self.states: dict[str, str | None] = {}

    async def hand_over(self, ids_by_channel: Any, *, delay_ms: int = 0, lane: Any = "normal") -> bool:
        for ids in ids_by_channel.values():
            for delivery_id in ids:
                dispatch_id = delivery_id.split(":")[0]
                dispatch = await self.db["dispatches"].find_one({"_id": dispatch_id})
                self.states[dispatch_id] = None if dispatch is None else dispatch["state"]
        return await super().hand_over(ids_by_channel, delay_ms=delay_ms, lane=lane)


async def test_a_listed_send_is_stored_expanded_after_its_deliveries_and_before_the_broker_hears(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    users = await add_cluster(stack, unique("ordered"), 2)
    enqueued = Enqueued()
    outbox = _CheckingOutbox(stack, enqueued)
    writes = DispatchWrites(stack.runtime.store, outbox, stack.runtime.opt_outs)
    fresh = [unique(f"ordered{i}") for i in range(2)]

    outcomes = await asyncio.gather(
        *(writes.send_listed(_listed(stack, d, [u])) for d, u in zip(fresh, users, strict=True))
    )

    assert outcomes == [[], []]
    # no update afterwards: a worker given the deliveries finds the dispatch expanded already
    assert outbox.states == {dispatch_id: "expanded" for dispatch_id in fresh}
    for dispatch_id in fresh:
        dispatch = await stack.db["dispatches"].find_one({"_id": dispatch_id})
        assert dispatch is not None and dispatch["expanded_at"] is not None


async def test_a_listed_send_whose_broker_and_outbox_fail_is_answered_with_its_deliveries_queued(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    [user] = await add_cluster(stack, unique("unhanded"), 1)
    enqueued = Enqueued()
    enqueued.down = True

    class _NoOutbox(Outbox):
        async def hand_over(self, ids_by_channel: Any, *, delay_ms: int = 0, lane: Any = "normal") -> bool:
            raise ConnectionError("outbox unreachable")

    writes = DispatchWrites(
        stack.runtime.store, _NoOutbox(stack.runtime.store, enqueued, {"email": 50}), stack.runtime.opt_outs
    )
    dispatch_id = unique("unhanded")

    assert await writes.send_listed(_listed(stack, dispatch_id, [user])) == []

    # stored: the recovery sweep hands out deliveries left queued past the enqueue lease
    dispatch = await stack.db["dispatches"].find_one({"_id": dispatch_id})
    assert dispatch is not None and dispatch["state"] == "expanded"
    stored = await stack.db["deliveries"].find({"dispatch_id": dispatch_id}).to_list(None)
    assert [d["status"] for d in stored] == ["queued"]


async def test_a_fanout_batch_inserts_what_is_missing_even_past_one_commands_size_limit(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    writes = DispatchWrites(stack.runtime.store, stack.runtime.outbox, stack.runtime.opt_outs)
    dispatch_id, now = unique("batch"), utcnow()

    def delivery(user: int, address: str) -> dict[str, Any]:
        return {
            "_id": f"{dispatch_id}:email:u{user}",
            "dispatch_id": dispatch_id,
            "channel": "email",
            "user_id": f"u{user}",
            "address": address,
            "status": "queued",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }

    await writes.insert_deliveries_now([delivery(0, "u0@example.org")])
    # a resumed fan-out meets the deliveries it wrote before: no error, nothing written twice
    await writes.insert_deliveries_now([delivery(0, "u0@example.org"), delivery(1, "u1@example.org")])
    # 18 MB in one batch: over one command's limit (16 MB), so written through insert_many's split
    await writes.insert_deliveries_now([delivery(user, "x" * 1_000_000) for user in range(2, 20)])
    stored = await stack.db["deliveries"].find({"dispatch_id": dispatch_id}, {"address": 0}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == sorted(f"u{user}" for user in range(20))
    with pytest.raises(BulkWriteError):  # any other write error is one
        await writes.insert_deliveries_now([{**delivery(20, "u20@example.org"), "_id": [1, 2]}])
