"""A batch sent over several provider connections at once (``Limits.concurrency``) records each outcome
on its own delivery: the Message-ID the sink received is the delivery's provider id, a refused address
fails only its own delivery."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.email import EmailChannel
from host.dispatch.schemas import SendRequest
from host.plugins.channel import Limits
from tests.support.stacks import Stack, dispatcher


async def test_a_batch_over_three_connections_keeps_every_outcome_on_its_delivery(
    stack: Stack, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EmailChannel, "limits", Limits(batch_size=100, concurrency=3))
    group = unique("lanes")
    uids = [unique(f"lane{i}") for i in range(8)]
    await stack.add_users(
        *({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": [group]} for uid in uids)
    )
    refused = f"{uids[4]}@example.org"
    stack.sink.refuse(refused)
    connections = stack.sink.connections
    try:
        result = await stack.send(
            {
                "channels": ["email"],
                "clusters": [group],
                "messageTitle": "Hi {{user.fiscalCode}}",
                "messageContent": "x",
            }
        )
        view = await stack.wait_settled(result["dispatchId"])
        assert view["counts"] == {"email": {"sent": 7, "failed": 1}}
        assert stack.sink.connections - connections == 3
        for delivery in await stack.deliveries(result["dispatchId"]):
            address = f"{delivery['userId']}@example.org"
            if address == refused:
                assert delivery["status"] == "failed"
                assert delivery["lastError"]["code"] == "smtp-550"
                continue
            assert delivery["status"] == "sent"
            [mail] = stack.mails_to(address)
            assert mail.message["Subject"] == f"Hi {delivery['userId']}"
            assert mail.message["Message-ID"] == delivery["providerId"]
    finally:
        stack.sink.reset()  # forgets the refusal (and what was received)


async def test_a_template_deleted_after_the_send_was_accepted_fails_its_deliveries_clearly(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("deleted-template")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    made = await stack.client.post(
        "/templates", json={"name": unique("soon-gone"), "emailTitle": "t", "emailMessage": "m"}
    )
    template_id = made.json()["id"]
    handed: list[list[str]] = []
    # accepted, but its batch kept here instead of reaching a worker
    held = dispatcher(stack, lambda channel, ids, delay, lane: handed.append(ids))
    accepted = await held.accept(SendRequest(channels=["email"], recipients=[uid], template_id=template_id))
    assert (await stack.client.delete(f"/templates/{template_id}")).status_code == 204
    [ids] = handed

    await stack.runtime.delivery.deliver("email", ids)

    [delivery] = await stack.deliveries(accepted.dispatch_id)
    assert delivery["status"] == "failed" and delivery["attempts"] == 1  # not retried: it cannot succeed
    assert delivery["lastError"]["code"] == "render"
    assert (
        template_id in delivery["lastError"]["message"]
        and "no longer exists" in delivery["lastError"]["message"]
    )
    assert stack.mails_to(f"{uid}@example.org") == []
