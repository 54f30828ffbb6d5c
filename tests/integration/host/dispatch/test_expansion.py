"""The fan-out of a dispatch into deliveries, in batches and resumable, on the development database; enqueues
are counted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import pytest

import host.audience.opt_outs
import host.dispatch.accept
import host.dispatch.expansion
from host.dispatch.schemas import SendRequest
from host.dispatch.writes import PROGRESS_SECONDS, FanoutProgress
from tests.support.clock import ManualClock
from tests.support.enqueued import Enqueued, add_cluster
from tests.support.stacks import Stack, dispatcher


def _cluster_send(group: str) -> SendRequest:
    return SendRequest(channels=["email"], clusters=[group], message_title="t", message_content="c")


async def test_a_cluster_is_expanded_in_batches_into_one_delivery_each(
    stack: Stack, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.dispatch.expansion, "FANOUT_BATCH", 7)
    group = unique("fan")
    users = await add_cluster(stack, group, 40)
    await stack.add_users({"mail": f"{group}-noid@example.org", "groups": [group]})  # no id: left out
    enqueued = Enqueued()
    service = dispatcher(stack, enqueued)
    accepted = await service.accept(_cluster_send(group))
    await service.expand(accepted.dispatch_id)

    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == users
    assert {d["status"] for d in stored} == {"queued"}
    assert all(isinstance(d["created_at"], datetime) and d["updated_at"] == d["created_at"] for d in stored)
    assert sorted(enqueued.ids) == sorted(d["_id"] for d in stored)
    dispatch = await stack.db["dispatches"].find_one({"_id": accepted.dispatch_id})
    assert dispatch is not None
    assert (dispatch["state"], dispatch["expanded_count"]) == ("expanded", 40)
    assert (dispatch["fanout_key"], dispatch["fanout_after"]) == ("fiscalCode", users[-1])
    assert await stack.db["outbox"].count_documents({"messages.ids": stored[0]["_id"]}) == 0


async def test_a_fanout_resumes_after_its_recorded_user_id(
    stack: Stack, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a small cluster is expanded in the request: make this one the fan-out actor's, then resume it
    monkeypatch.setattr(host.dispatch.accept, "INLINE_AUDIENCE", 0)
    group = unique("resume")
    users = await add_cluster(stack, group, 12)
    service = dispatcher(stack, Enqueued())
    accepted = await service.accept(_cluster_send(group))
    await stack.db["dispatches"].update_one(
        {"_id": accepted.dispatch_id}, {"$set": {"fanout_after": users[4], "fanout_key": "fiscalCode"}}
    )
    await service.expand(accepted.dispatch_id)
    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == users[5:]


async def test_progress_recorded_in_id_order_resumes_in_id_order(
    stack: Stack, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a small cluster is expanded in the request: make this one the fan-out actor's, then resume it
    monkeypatch.setattr(host.dispatch.accept, "INLINE_AUDIENCE", 0)
    # a dispatch whose fan-out stopped before the resume key was recorded: `fanout_after` is a user _id
    group = unique("legacy")
    await add_cluster(stack, group, 6)
    found = await stack.db["users"].find({"groups": group}).sort("_id", 1).to_list(None)
    service = dispatcher(stack, Enqueued())
    accepted = await service.accept(_cluster_send(group))
    await stack.db["dispatches"].update_one(
        {"_id": accepted.dispatch_id}, {"$set": {"fanout_after": found[2]["_id"]}}
    )
    await service.expand(accepted.dispatch_id)
    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == sorted(u["fiscalCode"] for u in found[3:])


async def test_fanout_progress_is_recorded_when_due_and_at_the_end_not_per_batch(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    dispatch_id = unique("progress")
    await stack.db["dispatches"].insert_one({"_id": dispatch_id, "expanded_count": 0})
    clock = ManualClock()
    progress = FanoutProgress(stack.runtime.store, dispatch_id, "fiscalCode", clock=clock)

    async def stored(_id: str) -> tuple[object, object]:
        doc = await stack.db["dispatches"].find_one({"_id": _id})
        assert doc is not None
        return doc.get("fanout_after"), doc["expanded_count"]

    async def written() -> None:
        return None

    for after in ("u1", "u2"):  # within a second of the start
        await progress.written(asyncio.create_task(written()), after, 10)
    assert await stored(dispatch_id) == (None, 0)  # not due: nothing recorded yet
    await progress.record()
    assert await stored(dispatch_id) == ("u2", 20)  # the last user written, every batch counted once

    clock.advance(PROGRESS_SECONDS)
    await progress.written(asyncio.create_task(written()), "u3", 5)
    assert await stored(dispatch_id) == ("u3", 25)  # due: recorded with the batch
    await progress.record()  # nothing new: the count is not added twice
    assert await stored(dispatch_id) == ("u3", 25)


@pytest.mark.parametrize("whole", [True, False], ids=["list-read-once", "list-looked-up-per-batch"])
async def test_a_fanout_skips_the_users_opted_out_before_it(
    stack: Stack, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    monkeypatch.setattr(host.dispatch.accept, "INLINE_AUDIENCE", 0)  # the fan-out actor's path
    monkeypatch.setattr(host.dispatch.expansion, "FANOUT_BATCH", 7)
    if not whole:  # a list longer than the fan-out reads whole
        monkeypatch.setattr(host.audience.opt_outs, "FANOUT_SNAPSHOT", 0)
    group = unique("optfan")
    users = await add_cluster(stack, group, 20)
    opted_out = [*users[3:6], users[15]]
    for uid in opted_out:
        await stack.runtime.opt_outs.record(uid, "email", "api")
    await stack.runtime.opt_outs.record(users[0], "sms", "api")  # another channel's: still mailed
    enqueued = Enqueued()
    service = dispatcher(stack, enqueued)
    accepted = await service.accept(_cluster_send(group))
    await service.expand(accepted.dispatch_id)

    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    skipped = [d for d in stored if d["status"] == "skipped"]
    assert sorted(d["user_id"] for d in skipped) == opted_out
    assert {d["last_error"]["code"] for d in skipped} == {"opted-out"}
    assert sorted(enqueued.ids) == sorted(d["_id"] for d in stored if d["status"] == "queued")
    assert len(enqueued.ids) == 16


async def test_a_short_opt_out_list_is_read_once_and_a_long_one_per_batch(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    opt_outs = stack.runtime.opt_outs
    early, late = unique("early"), unique("late")
    await opt_outs.record(early, "email", "api")
    listed = await stack.db["opt_outs"].count_documents({})
    once = await opt_outs.fanout_lookup_once(["email"], None, limit=listed)
    per_batch = await opt_outs.fanout_lookup_once(["email"], None, limit=listed - 1)
    assert isinstance(once, frozenset) and per_batch is not None and callable(per_batch)
    await opt_outs.record(late, "email", "api")  # recorded while the fan-out runs

    # read whole before the batches: the late opt-out is the send-time check's (host.delivery.opt_out_checks)
    assert f"{early}:email" in once and f"{late}:email" not in once
    assert {f"{early}:email", f"{late}:email"} <= set(await per_batch([early, late]))
    assert await opt_outs.fanout_lookup_once(["email"], "transactional") is None
