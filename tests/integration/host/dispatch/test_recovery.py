"""The recovery sweep: what the broker never received is sent, a delivery left ``queued`` is handed out again,
a claim whose delivery was never marked ``sending`` (the database failed in between) is released, and a
delivery left ``queued`` without its dispatch (a listed /send stopped between its two inserts) is deleted.

The orphaned claim was seen in bench/db_restart.py: the claim document was inserted, the database went away
before the delivery's status update, and every later hand-out met the claim as "taken by another worker".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from host.dispatch.recovery import OUTBOX_GRACE_SECONDS
from host.dispatch.schemas import SendRequest
from host.storage.documents import utcnow
from tests.support.stacks import Stack, dispatcher


async def test_the_sweep_releases_an_orphaned_claim_and_the_delivery_is_sent(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("orphan")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "Hi", "messageContent": "Hello"}
    )
    await stack.wait_settled(result["dispatchId"])
    [delivery] = await stack.db["deliveries"].find({"dispatch_id": result["dispatchId"]}).to_list(None)
    # rewind to the moment after the claim insert and before the status update, long enough ago
    long_ago = utcnow() - timedelta(hours=1)
    await stack.db["deliveries"].update_one(
        {"_id": delivery["_id"]},
        {"$set": {"status": "queued", "attempts": 0, "updated_at": long_ago, "sent_at": None}},
    )
    await stack.db["attempts"].update_one(
        {"_id": f"{delivery['_id']}:1"}, {"$set": {"outcome": "sending", "started_at": long_ago}}
    )
    stack.sink.received[:] = [mail for mail in stack.sink.received if address not in mail.rcpt_tos]

    report = await stack.runtime.sweep.run_once(queued_older_than=60)

    # other tests of the session may leave deliveries queued too: this one must be among those handed out
    assert report.deliveries >= 1
    await stack.wait_settled(result["dispatchId"])
    after = await stack.db["deliveries"].find_one({"_id": delivery["_id"]})
    assert after is not None and (after["status"], after["attempts"]) == ("sent", 2)
    orphan = await stack.db["attempts"].find_one({"_id": f"{delivery['_id']}:1"})
    assert orphan is not None and orphan["outcome"] == "abandoned"
    assert len(stack.mails_to(address)) == 1


async def test_recovery_sweep_sends_what_the_broker_never_received(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("lost")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    runtime = stack.runtime

    def broker_down(channel: str, ids: list[str], delay_ms: int) -> None:
        raise ConnectionError("broker unreachable")

    # the dispatch service with an outbox handing its batches to a broker that refuses them
    refused = dispatcher(stack, broker_down, stack.actors.schedule_expansion)
    accepted = await refused.accept(
        SendRequest(channels=["email"], recipients=[uid], message_title="t", message_content="c")
    )
    result = {"dispatchId": accepted.dispatch_id}
    [delivery] = await stack.deliveries(result["dispatchId"])
    [entry] = await stack.db["outbox"].find({"messages.ids": delivery["id"]}).to_list(None)
    # up to the last millisecond of its grace period the entry is not due: a sweep leaves it where it is
    not_yet = entry["created_at"] + timedelta(seconds=OUTBOX_GRACE_SECONDS, milliseconds=-1)
    await runtime.sweep.run_once(now=not_yet)
    assert await stack.db["outbox"].count_documents({"_id": entry["_id"]}) == 1
    [delivery] = await stack.deliveries(result["dispatchId"])
    assert delivery["status"] == "queued"
    assert stack.mails_to(f"{uid}@example.org") == []

    report = await runtime.sweep.run_once(outbox_grace=0)
    assert report.outbox_entries >= 1
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"]["email"] == {"sent": 1}
    assert len(stack.mails_to(f"{uid}@example.org")) == 1


async def test_deep_sweep_requeues_a_delivery_left_queued(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("stuck")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "t", "messageContent": "c"}
    )
    await stack.wait_settled(result["dispatchId"])
    # a delivery whose broker message was lost: queued in the database, in no queue
    [delivery] = await stack.deliveries(result["dispatchId"])
    await stack.db["deliveries"].update_one({"_id": delivery["id"]}, {"$set": {"status": "queued"}})
    report = await stack.runtime.sweep.run_once(queued_older_than=0)
    assert report.deliveries >= 1
    await stack.wait_settled(result["dispatchId"])
    assert len(stack.mails_to(f"{uid}@example.org")) == 2  # handed out again, as the sweep promised


async def test_the_deep_sweep_deletes_queued_deliveries_whose_dispatch_was_never_stored(
    stack: Stack, unique: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    orphaned, lost = unique("orphaned"), unique("lost-message")
    await stack.add_users(
        {"fiscalCode": orphaned, "mail": f"{orphaned}@example.org"},
        {"fiscalCode": lost, "mail": f"{lost}@example.org"},
    )
    # accepted, their batches kept here instead of reaching the broker: both deliveries stay queued
    held = dispatcher(stack, lambda channel, ids, delay, lane: None)
    gone = await held.accept(
        SendRequest(channels=["email"], recipients=[orphaned], message_title="t", message_content="c")
    )
    kept = await held.accept(
        SendRequest(channels=["email"], recipients=[lost], message_title="t", message_content="c")
    )
    # what a crash between a listed send's two inserts leaves: its deliveries, and no dispatch
    await stack.db["dispatches"].delete_one({"_id": gone.dispatch_id})
    [orphan] = await stack.db["deliveries"].find({"dispatch_id": gone.dispatch_id}).to_list(None)
    [waiting] = await stack.db["deliveries"].find({"dispatch_id": kept.dispatch_id}).to_list(None)
    assert (orphan["status"], waiting["status"]) == ("queued", "queued")
    caplog.set_level(logging.WARNING, logger="host.dispatch.recovery")

    # queued for less than the lease: not judged yet, whether its dispatch exists or not
    await stack.runtime.sweep.run_once(queued_older_than=60, now=orphan["updated_at"] + timedelta(seconds=59))
    assert await stack.db["deliveries"].count_documents({"_id": orphan["_id"]}) == 1

    late = waiting["updated_at"] + timedelta(seconds=61)
    report = await stack.runtime.sweep.run_once(queued_older_than=60, now=late)

    # other tests of the session may leave deliveries queued too: these must be among those counted
    assert report.orphans >= 1 and report.deliveries >= 1
    assert await stack.db["deliveries"].count_documents({"dispatch_id": gone.dispatch_id}) == 0
    assert "queued deliveries whose dispatch was never stored" in caplog.text
    # the one whose dispatch exists is handed out and sent; the orphan never reaches a worker
    view = await stack.wait_settled(kept.dispatch_id)
    assert view["counts"]["email"] == {"sent": 1}
    assert len(stack.mails_to(f"{lost}@example.org")) == 1
    assert stack.mails_to(f"{orphaned}@example.org") == []
    assert await stack.db["attempts"].count_documents({"_id": f"{orphan['_id']}:1"}) == 0
