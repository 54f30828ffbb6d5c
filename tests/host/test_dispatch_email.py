"""End to end: POST /send → dispatch → outbox → Redis → worker → SMTP sink, on the development database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from host.dispatch.schemas import SendRequest
from tests.conftest import Stack
from tests.stacks import dispatcher


async def test_email_reaches_the_inbox_rendered_with_cc_and_without_bcc(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("mario")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "name": "Mario", "groups": []})
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Hello {{user.name}}",
            "messageContent": "Hello, {{user.name}}! Your appointment is dated {{data.appointmentDate}}",
            "data": {"appointmentDate": "01/01/2021"},
            "emailCarbonCopies": ["boss@example.org", "not-an-address"],
            "emailBlindCarbonCopies": ["secret@example.org"],
        }
    )
    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}

    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Hello Mario"
    assert mail.message["From"] == "noreply@tidings.test"
    assert "boss@example.org" in mail.message["Cc"]
    assert "not-an-address" not in mail.data.decode()
    assert b"secret@example.org" not in mail.data
    # the copies travel apart, without the user's unsubscribe link (tests/integration/host/templates)
    [copy] = [
        m
        for m in stack.mails_to("secret@example.org")
        if m.message["Message-ID"] == mail.message["Message-ID"]
    ]
    assert copy.rcpt_tos == ["boss@example.org", "secret@example.org"]
    assert mail.message.get_content().strip() == "Hello, Mario! Your appointment is dated 01/01/2021"
    [delivery] = await stack.deliveries(result["dispatchId"])
    assert delivery["status"] == "sent"
    assert delivery["attempts"] == 1
    assert delivery["providerId"]


async def test_recipients_and_clusters_are_deduplicated_and_failures_reported(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("group")
    both, only_cluster, no_mail, bad_mail = (unique(n) for n in ("both", "cl", "nomail", "badmail"))
    await stack.add_users(
        {"fiscalCode": both, "mail": f"{both}@example.org", "groups": [group]},
        {"fiscalCode": only_cluster, "mail": f"{only_cluster}@example.org", "groups": [group, "other"]},
        {"fiscalCode": no_mail, "groups": []},
        {"fiscalCode": bad_mail, "mail": "bad address", "groups": []},
    )
    ghost = unique("ghost")
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [both, both, no_mail, bad_mail, ghost],
            "clusters": [group],
            "messageTitle": "Hi",
            "messageContent": "Hi {{user.fiscalCode}}",
        }
    )
    failures = {(f["userId"], f["channel"]): f["error"] for f in result["failures"]}
    assert set(failures) == {(no_mail, "email"), (bad_mail, "email"), (ghost, "email")}
    assert "no emailAddress" in failures[(no_mail, "email")]
    assert "no user" in failures[(ghost, "email")]

    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"]["email"] == {"sent": 2, "skipped": 2, "failed": 1}
    assert len(stack.mails_to(f"{both}@example.org")) == 1
    assert len(stack.mails_to(f"{only_cluster}@example.org")) == 1


async def test_smtp_4xx_is_retried_and_5xx_fails_at_once(stack: Stack, unique: Callable[[str], str]) -> None:
    retried, refused = unique("retried"), unique("refused")
    await stack.add_users({"fiscalCode": retried, "mail": f"{retried}@example.org"})
    stack.sink.script(["451 4.3.0 try again later"])
    first = await stack.send(
        {"channels": ["email"], "recipients": [retried], "messageTitle": "t", "messageContent": "c"}
    )
    view = await stack.wait_settled(first["dispatchId"])
    assert view["counts"]["email"] == {"sent": 1}
    [delivery] = await stack.deliveries(first["dispatchId"])
    assert delivery["attempts"] == 2
    assert len(stack.mails_to(f"{retried}@example.org")) == 1

    await stack.add_users({"fiscalCode": refused, "mail": f"{refused}@example.org"})
    stack.sink.script(["554 5.7.1 rejected by policy"])
    second = await stack.send(
        {"channels": ["email"], "recipients": [refused], "messageTitle": "t", "messageContent": "c"}
    )
    view = await stack.wait_settled(second["dispatchId"])
    assert view["counts"]["email"] == {"failed": 1}
    [delivery] = await stack.deliveries(second["dispatchId"])
    assert delivery["attempts"] == 1
    assert delivery["lastError"]["code"] == "smtp-554"
    assert "rejected by policy" in delivery["lastError"]["message"]
    attempts = await stack.db["attempts"].find({"delivery_id": delivery["id"]}).to_list(None)
    assert [a["outcome"] for a in attempts] == ["failed"]


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
    await asyncio.sleep(0.3)
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
