"""The fan-out and the grouped writes of dispatch, on the development database; enqueues are counted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

import host.dispatch.expansion
from host.audience.planning import DeliveryPlanner
from host.dispatch.accept import Dispatcher
from host.dispatch.schemas import SendRequest
from host.dispatch.writes import DispatchWrites
from host.storage.documents import utcnow
from host.storage.group_commit import GroupCommit
from tests.support.stacks import Stack, dispatcher


class Enqueued:
    """Stands for the broker: keeps every delivery id handed over, or refuses while ``down``."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.messages = 0
        self.down = False

    def __call__(self, channel: str, ids: list[str], delay_ms: int) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.messages += 1
        self.ids.extend(ids)


def _service(stack: Stack, enqueued: Enqueued) -> Dispatcher:
    return dispatcher(stack, enqueued)


async def _cluster(stack: Stack, group: str, count: int) -> list[str]:
    ids = [f"{group}-{i:03d}" for i in range(count)]
    await stack.add_users(
        *({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": [group]} for uid in ids)
    )
    return ids


def _cluster_send(group: str) -> SendRequest:
    return SendRequest(channels=["email"], clusters=[group], message_title="t", message_content="c")


async def test_a_cluster_is_expanded_in_batches_into_one_delivery_each(
    stack: Stack, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.dispatch.expansion, "FANOUT_BATCH", 7)
    group = unique("fan")
    users = await _cluster(stack, group, 40)
    await stack.add_users({"mail": f"{group}-noid@example.org", "groups": [group]})  # no id: left out
    enqueued = Enqueued()
    service = _service(stack, enqueued)
    accepted = await service.accept(_cluster_send(group))
    await service.expand(accepted.dispatch_id)

    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == users
    assert {d["status"] for d in stored} == {"queued"}
    assert sorted(enqueued.ids) == sorted(d["_id"] for d in stored)
    dispatch = await stack.db["dispatches"].find_one({"_id": accepted.dispatch_id})
    assert dispatch is not None
    assert (dispatch["state"], dispatch["expanded_count"]) == ("expanded", 40)
    assert (dispatch["fanout_key"], dispatch["fanout_after"]) == ("fiscalCode", users[-1])
    assert await stack.db["outbox"].count_documents({"messages.ids": stored[0]["_id"]}) == 0


async def test_a_fanout_resumes_after_its_recorded_user_id(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("resume")
    users = await _cluster(stack, group, 12)
    service = _service(stack, Enqueued())
    accepted = await service.accept(_cluster_send(group))
    await stack.db["dispatches"].update_one(
        {"_id": accepted.dispatch_id}, {"$set": {"fanout_after": users[4], "fanout_key": "fiscalCode"}}
    )
    await service.expand(accepted.dispatch_id)
    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == users[5:]


async def test_progress_recorded_in_id_order_resumes_in_id_order(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    # a dispatch whose fan-out stopped before the resume key was recorded: `fanout_after` is a user _id
    group = unique("legacy")
    await _cluster(stack, group, 6)
    found = await stack.db["users"].find({"groups": group}).sort("_id", 1).to_list(None)
    service = _service(stack, Enqueued())
    accepted = await service.accept(_cluster_send(group))
    await stack.db["dispatches"].update_one(
        {"_id": accepted.dispatch_id}, {"$set": {"fanout_after": found[2]["_id"]}}
    )
    await service.expand(accepted.dispatch_id)
    stored = await stack.db["deliveries"].find({"dispatch_id": accepted.dispatch_id}).to_list(None)
    assert sorted(d["user_id"] for d in stored) == sorted(u["fiscalCode"] for u in found[3:])


async def test_concurrent_sends_are_written_in_groups_and_each_gets_its_own_answer(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("many")
    users = await _cluster(stack, group, 30)
    enqueued = Enqueued()
    service = _service(stack, enqueued)
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


async def test_a_refused_hand_over_is_written_to_the_outbox(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("refused")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    enqueued = Enqueued()
    enqueued.down = True
    service = _service(stack, enqueued)
    accepted = await service.accept(
        SendRequest(channels=["email"], recipients=[uid], message_title="t", message_content="c")
    )
    delivery_id = f"{accepted.dispatch_id}:email:{uid}"
    entries = await stack.db["outbox"].find({"messages.ids": delivery_id}).to_list(None)
    assert len(entries) == 1
    dispatch = await stack.db["dispatches"].find_one({"_id": accepted.dispatch_id})
    assert dispatch is not None and dispatch["state"] == "expanded"  # the outbox entry carries it now
    await stack.db["outbox"].delete_one({"_id": entries[0]["_id"]})  # not for the shared sweep


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


async def test_group_commit_serves_a_lone_caller_and_groups_the_rest() -> None:
    groups: list[list[int]] = []

    async def run(jobs: list[int]) -> list[Any]:
        groups.append(jobs)
        await asyncio.sleep(0)
        return [ValueError(job) if job == 13 else job * 2 for job in jobs]

    commit = GroupCommit[int, int](run, max_size=4)
    assert await commit(1) == 2
    results = await asyncio.gather(*(commit(job) for job in range(10, 20)), return_exceptions=True)
    assert [r if isinstance(r, int) else "error" for r in results] == [
        20,
        22,
        24,
        "error",
        28,
        30,
        32,
        34,
        36,
        38,
    ]
    assert groups[0] == [1]
    assert [len(g) for g in groups[1:]] == [4, 4, 2]  # arrived together: grouped up to max_size
    assert sorted(job for group in groups[1:] for job in group) == list(range(10, 20))


async def test_group_commit_hands_a_failed_call_to_every_caller_of_its_group() -> None:
    async def run(jobs: list[str]) -> list[Any]:
        raise ConnectionError("database down")

    commit = GroupCommit[str, str](run)
    results = await asyncio.gather(commit("a"), commit("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


@pytest.mark.parametrize("field", ["mail", "contacts.mail"])
@pytest.mark.parametrize(
    ("contact", "status", "address", "code"),
    [
        ({"mail": "a@example.org"}, "queued", "a@example.org", None),
        ({"mail": " a@example.org "}, "queued", "a@example.org", None),
        (
            {"mail": "a@example.org", "mailExpired": {"address": "a@example.org"}},
            "skipped",
            "a@example.org",
            "address-expired",
        ),
        (
            {"mail": "b@example.org", "mailExpired": {"address": "a@example.org"}},
            "queued",
            "b@example.org",
            None,
        ),
        ({"mail": "not an address"}, "failed", None, "invalid-address"),
        ({"mail": 42}, "failed", None, "invalid-address"),
        ({"mail": ""}, "skipped", None, "no-address"),
        ({}, "skipped", None, "no-address"),
        (None, "skipped", None, "unknown-recipient"),
    ],
)
async def test_planned_deliveries_on_a_plain_or_dotted_address_field(
    stack: Stack,
    field: str,
    contact: dict[str, Any] | None,
    status: str,
    address: str | None,
    code: str | None,
) -> None:
    fields = msgspec.structs.replace(stack.settings.config.user_fields, email_address=field)
    user = None if contact is None else {"contacts": contact} if "." in field else contact
    channels = [("email", stack.runtime.registry["email"])]
    planned = DeliveryPlanner("d1", channels, fields).plan([("u1", user)], utcnow())
    [doc] = planned.docs
    assert (doc["_id"], doc["status"], doc["address"]) == ("d1:email:u1", status, address)
    assert doc.get("last_error", {}).get("code") == code
    assert planned.queued == {"email": ["d1:email:u1"] if status == "queued" else []}
    assert [f.user_id for f in planned.failures] == ([] if status == "queued" else ["u1"])
