"""The outbox: a hand-over the broker refused is written down, and with the broker down during POST /send the
request is accepted whole, and sent exactly once when the broker is back.

A private redis-server is stopped before the request and started again on the same port afterwards;
nothing but the recovery sweep hands the accepted work to the broker.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import pytest

import host.dispatch.accept
from host.dispatch.outbox import Batch, Outbox
from host.dispatch.schemas import SendRequest
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.enqueued import Enqueued
from tests.support.stacks import Stack, dispatcher, open_stack

RECIPIENTS = 12
CLUSTER_USERS = 8


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(workdir=tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def broker_stack(
    tmp_path_factory: pytest.TempPathFactory, devdb: DevDatabase, private_redis: RedisServer, stack: Stack
) -> AsyncIterator[Stack]:
    async with (
        SmtpSink() as sink,
        open_stack(
            tmp_path_factory.mktemp("broker-down"),
            devdb,
            private_redis,
            sink,
            BASE_CONFIG,
            database="tidings_broker_down",
            redis_db=0,
            session_stack=stack,  # first: its worker's event loop is the one this stack's runs on
        ) as private,
    ):
        yield private


def _restart(server: RedisServer, workdir: Path) -> RedisServer:
    return RedisServer(port=server.port, workdir=workdir).start()


async def test_send_is_accepted_while_the_broker_is_down_and_sent_once_when_it_returns(
    broker_stack: Stack,
    private_redis: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = broker_stack
    group = unique("down")
    listed = [f"{group}-r{i}" for i in range(RECIPIENTS)]
    clustered = [f"{group}-c{i}" for i in range(CLUSTER_USERS)]
    await stack.add_users(
        *({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []} for uid in listed),
        *({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": [group]} for uid in clustered),
    )
    body = {"channels": ["email"], "messageTitle": "Hi", "messageContent": "Hello"}

    await asyncio.to_thread(private_redis.stop)
    try:
        direct = await stack.client.post("/send", json={**body, "recipients": listed})
        # the cluster as a large one, expanded after the answer by the fan-out actor (which the broker
        # down keeps from starting); a small one is expanded in the request, like the listed recipients
        monkeypatch.setattr(host.dispatch.accept, "INLINE_AUDIENCE", 0)
        fanned = await stack.client.post("/send", json={**body, "clusters": [group]})
        monkeypatch.undo()

        assert direct.status_code == 200, direct.text
        assert fanned.status_code == 200, fanned.text
        assert direct.json()["failures"] == []
        direct_id, fanned_id = direct.json()["dispatchId"], fanned.json()["dispatchId"]
        # nothing half-done: every listed delivery is stored and queued, and the outbox still holds them
        stored = await stack.db["deliveries"].find({"dispatch_id": direct_id}).to_list(None)
        assert sorted(d["user_id"] for d in stored) == sorted(listed)
        assert {d["status"] for d in stored} == {"queued"}
        outboxed = [
            i async for entry in stack.db["outbox"].find() for m in entry["messages"] for i in m["ids"]
        ]
        assert sorted(outboxed) == sorted(d["_id"] for d in stored)
        dispatch = await stack.db["dispatches"].find_one({"_id": fanned_id})
        assert dispatch is not None and dispatch["state"] == "expanding"
    finally:
        workdir = tmp_path_factory.mktemp("redis-again")
        restarted = await asyncio.to_thread(_restart, private_redis, workdir)
        private_redis._process, restarted._process = restarted._process, None

    report = await stack.runtime.sweep.run_once(outbox_grace=0, fanout_stall=0)
    assert report.outbox_entries >= 1
    assert report.dispatches == 1

    await stack.wait_settled(direct_id, timeout=60)
    await stack.wait_settled(fanned_id, timeout=60)
    arrived = Counter(rcpt for mail in stack.sink.received for rcpt in mail.rcpt_tos if group in rcpt)
    assert arrived == Counter({f"{uid}@example.org": 1 for uid in listed + clustered})
    assert await stack.db["outbox"].count_documents({}) == 0


async def test_a_refused_hand_over_is_written_to_the_outbox(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("refused")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    enqueued = Enqueued()
    enqueued.down = True
    service = dispatcher(stack, enqueued)
    accepted = await service.accept(
        SendRequest(channels=["email"], recipients=[uid], message_title="t", message_content="c")
    )
    delivery_id = f"{accepted.dispatch_id}:email:{uid}"
    entries = await stack.db["outbox"].find({"messages.ids": delivery_id}).to_list(None)
    assert len(entries) == 1
    dispatch = await stack.db["dispatches"].find_one({"_id": accepted.dispatch_id})
    assert dispatch is not None and dispatch["state"] == "expanded"  # the outbox entry carries it now
    await stack.db["outbox"].delete_one({"_id": entries[0]["_id"]})  # not for the shared sweep


async def test_a_cancelled_hand_over_ends_only_once_its_broker_call_has(stack: Stack) -> None:
    # a caller cancelled mid-enqueue (a fan-out stopped, a runtime closing) must not leave the broker
    # call running on its own: it would open a new connection to a broker closed right after
    entered, release = threading.Event(), threading.Event()
    ended_first: list[bool] = []

    def enqueue_many(batches: Sequence[Batch]) -> None:
        entered.set()
        release.wait(30)
        ended_first.append(handing.done())  # read by this thread as the call returns

    outbox = Outbox(stack.runtime.store, Enqueued(), {"email": 50}, enqueue_many=enqueue_many)
    handing = asyncio.create_task(outbox.hand_over({"email": ["d:email:u"]}))
    assert await asyncio.to_thread(entered.wait, 30)
    handing.cancel()
    # time for a cancellation that does not wait to end the task; the thread is still held meanwhile
    await asyncio.wait({handing}, timeout=0.5)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await handing
    assert ended_first == [False]  # the task was still waiting when the broker call returned
