"""Twilio's status callbacks: a signed one moves a sent SMS to delivered or undelivered, an unsigned one is
refused, and the move is posted as a delivery event."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from twilio.request_validator import RequestValidator

from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import WebhookReceiver
from tests.support.events import CALLBACK_URL, of_dispatch
from tests.support.stacks import Stack
from tests.support.waiting import eventually


async def test_a_twilio_callback_moves_an_sms_to_delivered_only_when_signed(
    events_stack: Stack,
    fake_twilio: FakeTwilio,
    receiver: WebhookReceiver,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = events_stack.fields
    uid = unique("sms-user")
    await events_stack.add_users({fields.id: uid, "phone": "+393331234567"})
    accepted = await events_stack.send(
        {"channels": ["sms"], "recipients": [uid], "messageTitle": "t", "messageContent": "Your code"}
    )
    dispatch_id = accepted["dispatchId"]
    await events_stack.wait_settled(dispatch_id)
    [delivery] = await events_stack.deliveries(dispatch_id)
    sid = delivery["providerId"]
    assert delivery["status"] == "sent" and sid
    form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": fake_twilio.account_sid}

    bad = await events_stack.client.post(
        "/twilio/status", data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    )
    assert bad.status_code == 403
    assert bad.json()["statusCode"] == "403" and bad.json()["message"]
    unsigned = await events_stack.client.post("/twilio/status", data=form)
    assert unsigned.status_code == 403
    [still] = await events_stack.deliveries(dispatch_id)
    assert still["status"] == "sent"

    signature = RequestValidator(fake_twilio.auth_token).compute_signature(CALLBACK_URL, form)
    good = await events_stack.client.post(
        "/twilio/status", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert good.status_code == 204, good.text
    [moved] = await events_stack.deliveries(dispatch_id)
    assert moved["status"] == "delivered"

    # a late (or replayed: Twilio's signature has no timestamp) report never moves a final status back
    failed_form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(CALLBACK_URL, failed_form)
    with caplog.at_level(logging.INFO, logger="host.feedback.twilio"):
        answer = await events_stack.client.post(
            "/twilio/status", data=failed_form, headers={"X-Twilio-Signature": signature}
        )
    assert answer.status_code == 204
    [kept] = await events_stack.deliveries(dispatch_id)
    assert kept["status"] == "delivered" and kept.get("lastError") is None
    assert (
        f"Twilio reported undelivered for delivery {kept['id']}, which is delivered: ignored" in caplog.text
    )

    def delivered_event() -> bool:
        return any(
            p.body["type"] == "delivery.delivered" for p in of_dispatch(receiver.accepted(), dispatch_id)
        )

    await eventually(delivered_event, timeout=20, what="delivery.delivered")
    # the SMS asked Twilio for the callback
    created = [m for m in fake_twilio.messages if m.to == "+393331234567"]
    assert created and created[-1].form.get("StatusCallback") == CALLBACK_URL
