"""A batch sent over several provider connections at once (``Limits.concurrency``) records each outcome
on its own delivery: the Message-ID the sink received is the delivery's provider id, a refused address
fails only its own delivery."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.email import EmailChannel
from host.plugins.channel import Limits
from tests.support.stacks import Stack


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
