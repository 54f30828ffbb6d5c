"""Claims: a batch handed out twice sends nothing twice, a claim names its worker, and a dead worker's
``sending`` deliveries are taken again once their lease has run out (and not before)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from host.delivery.worker import worker_name
from host.dispatch.schemas import SendRequest
from host.storage.documents import utcnow
from tests.support.stacks import Stack, dispatcher


async def held_batch(stack: Stack, unique: Callable[[str], str], count: int) -> tuple[str, list[str]]:
    """A dispatch accepted with its batch kept here, not handed to the stack's workers."""
    uids = [unique(f"claim{i}") for i in range(count)]
    await stack.add_users(*({"fiscalCode": uid, "mail": f"{uid}@example.org"} for uid in uids))
    handed: list[list[str]] = []
    held = dispatcher(stack, lambda channel, ids, delay, lane: handed.append(ids))
    accepted = await held.accept(
        SendRequest(channels=["email"], recipients=uids, message_title="Hi", message_content="once")
    )
    [ids] = handed
    return accepted.dispatch_id, ids


async def test_a_batch_handed_out_three_times_sends_each_mail_once(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    dispatch_id, ids = await held_batch(stack, unique, 12)
    worker = stack.runtime.delivery
    await asyncio.gather(worker.deliver("email", ids), worker.deliver("email", ids))  # side by side
    await worker.deliver("email", ids)  # and once more after

    for delivery in await stack.deliveries(dispatch_id):
        assert (delivery["status"], delivery["attempts"]) == ("sent", 1)
        assert len(stack.mails_to(f"{delivery['userId']}@example.org")) == 1
    claims = await stack.db["attempts"].find({"delivery_id": {"$in": ids}}).to_list(None)
    assert sorted(claim["_id"] for claim in claims) == sorted(f"{i}:1" for i in ids)
    assert {(claim["worker"], claim["outcome"]) for claim in claims} == {(worker_name(), "sent")}


async def test_a_dead_workers_sending_delivery_is_taken_again_after_the_lease(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    _, [delivery_id] = await held_batch(stack, unique, 1)
    started = utcnow()
    # a worker that died mid-send left its claim and the delivery "sending"
    await stack.db["attempts"].insert_one(
        {
            "_id": f"{delivery_id}:1",
            "delivery_id": delivery_id,
            "number": 1,
            "started_at": started,
            "outcome": "sending",
            "worker": "elsewhere:1",
        }
    )
    await stack.db["deliveries"].update_one(
        {"_id": delivery_id}, {"$set": {"status": "sending", "updated_at": started}, "$inc": {"attempts": 1}}
    )
    lease = timedelta(seconds=stack.settings.config.delivery.sending_lease_seconds)
    address = f"{delivery_id.rpartition(':')[2]}@example.org"

    await stack.runtime.delivery.deliver("email", [delivery_id], now=started + lease / 2)
    assert stack.mails_to(address) == []  # its worker may still be sending it

    await stack.runtime.delivery.deliver("email", [delivery_id], now=started + lease + timedelta(seconds=1))
    assert len(stack.mails_to(address)) == 1
    doc = await stack.db["deliveries"].find_one({"_id": delivery_id})
    assert doc is not None and (doc["status"], doc["attempts"]) == ("sent", 2)
    second = await stack.db["attempts"].find_one({"_id": f"{delivery_id}:2"})
    assert second is not None and (second["worker"], second["outcome"]) == (worker_name(), "sent")
