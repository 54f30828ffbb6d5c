"""The dispatch service's grouped writes: concurrent sends written together, each failure its own job's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from host.dispatch.schemas import SendRequest
from host.dispatch.writes import DispatchWrites
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
