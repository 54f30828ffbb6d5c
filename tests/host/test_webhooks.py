"""Delivery events: signed webhook posts, each once per endpoint, retried; Twilio's signed status callback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from twilio.request_validator import RequestValidator

from host.events.webhooks import verify_signature
from host.storage.devdb import DevDatabase
from tests.conftest import BASE_CONFIG, TWILIO_SENDER, Stack
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import WebhookPost, WebhookReceiver
from tests.services import RedisServer
from tests.stacks import open_stack

SECRET = "whsec-test-0123456789"
PUBLIC_URL = "http://tidings.test:8000"
CALLBACK_URL = PUBLIC_URL + "/twilio/status"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """A receiver of its own (the session one serves the webhook channel plugin)."""
    with WebhookReceiver() as opened:
        yield opened


@pytest.fixture(scope="module")
async def events_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    fake_twilio: FakeTwilio,
    receiver: WebhookReceiver,
    stack: Stack,
) -> AsyncIterator[Stack]:
    config: dict[str, Any] = {
        **BASE_CONFIG,
        "activeChannels": ["email", "sms"],
        "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER},
        "userFields": {**BASE_CONFIG["userFields"], "phoneNumber": "phone"},
        "webhooks": [{"url": receiver.url, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2}],
    }
    async with open_stack(
        tmp_path_factory.mktemp("events-stack"),
        devdb,
        redis_server,
        smtp_sink,
        config,
        database="tidings_webhooks",
        redis_db=14,
        session_stack=stack,
        TIDINGS_WEBHOOK_SECRET=SECRET,
        TIDINGS_PUBLIC_URL=PUBLIC_URL,
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_API_BASE=fake_twilio.url,
        TWILIO_STATUS_CALLBACK=CALLBACK_URL,
    ) as opened:
        yield opened


def signature_ok(post: WebhookPost) -> bool:
    """The receiver's check, written from the README's description (not Tidings' own helper)."""
    header = post.headers["tidings-signature"]
    fields = dict(item.split("=", 1) for item in header.split(","))
    raw = post.raw
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + raw, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= 300
    return (
        fresh
        and hmac.compare_digest(expected, fields["v1"])
        and verify_signature(SECRET.encode(), header, raw)
    )


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def of_dispatch(posts: list[WebhookPost], dispatch_id: str) -> list[WebhookPost]:
    return [p for p in posts if p.body and str(p.body["id"]).startswith(dispatch_id)]


async def test_every_event_arrives_once_signed_and_a_500_is_retried(
    events_stack: Stack, receiver: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    fields = events_stack.fields
    users = [unique(f"u{i}") for i in range(2)]
    await events_stack.add_users(
        *({fields.id: uid, fields.email_address: f"{uid}@example.test"} for uid in users)
    )
    receiver.script([500])  # the first post is refused: it must come again
    accepted = await events_stack.send(
        {
            "channels": ["email"],
            "recipients": [*users, unique("nobody")],
            "messageTitle": "Hello",
            "messageContent": "Events",
        }
    )
    dispatch_id = accepted["dispatchId"]

    await wait_for(lambda: len(of_dispatch(receiver.accepted(), dispatch_id)) >= 4, "four events")
    await asyncio.sleep(1.5)  # anything posted twice would arrive now (the poster looks every 0.5 s)
    posts = of_dispatch(receiver.posts, dispatch_id)
    ok = of_dispatch(receiver.accepted(), dispatch_id)
    types = sorted(p.body["type"] for p in ok)
    assert types == ["delivery.sent", "delivery.sent", "delivery.skipped", "dispatch.completed"]
    ids = [p.body["id"] for p in ok]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert all(signature_ok(p) for p in posts)
    refused = [p for p in posts if p.status == 500]
    assert len(refused) == 1 and refused[0].body["id"] in ids  # retried, then accepted
    done = next(p.body for p in ok if p.body["type"] == "dispatch.completed")
    assert done["data"]["id"] == dispatch_id and done["data"]["total"] == 3 and done["data"]["settled"]
    sent = next(p.body for p in ok if p.body["type"] == "delivery.sent")
    assert sent["data"]["dispatchId"] == dispatch_id and sent["data"]["status"] == "sent"
    record = await events_stack.db["webhook_deliveries"].find_one({"_id": f"{refused[0].body['id']}:0"})
    assert record is not None and record["status"] == "delivered" and record["attempts"] == 2

    # replay (what the console's button does) posts the event once more
    before = len(receiver.accepted())
    assert await events_stack.runtime.events.replay(done["id"]) == 1
    await wait_for(lambda: len(receiver.accepted()) > before, "the replayed event")
    assert receiver.accepted()[-1].body["id"] == done["id"]


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

    await wait_for(delivered_event, "delivery.delivered")
    # the SMS asked Twilio for the callback
    created = [m for m in fake_twilio.messages if m.to == "+393331234567"]
    assert created and created[-1].form.get("StatusCallback") == CALLBACK_URL


async def test_an_editor_sees_events_per_endpoint_and_replays_one(
    events_stack: Stack, receiver: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    from host.api.app import create_app
    from tests.admin_ui.test_roles import add_staff, logged_in

    fields = events_stack.fields
    uid = unique("console-user")
    await events_stack.add_users({fields.id: uid, fields.email_address: f"{uid}@example.test"})
    accepted = await events_stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "t", "messageContent": "c"}
    )
    dispatch_id = accepted["dispatchId"]
    await wait_for(lambda: len(of_dispatch(receiver.accepted(), dispatch_id)) >= 2, "two events")
    event_id = f"{dispatch_id}:email:{uid}:sent"
    async with AsyncTestClient(create_app(events_stack.actors), base_url="https://127.0.0.1") as console:
        token = await logged_in(
            console, await add_staff(events_stack, f"{unique('ed')}@example.test", "editor")
        )
        listing = await console.get("/console/events")
        assert listing.status_code == 200 and event_id in listing.text and "delivered" in listing.text
        refused = await console.post(f"/console/events/{event_id}/replay")  # no CSRF token
        assert refused.status_code == 403
        before = len(receiver.accepted())
        replayed = await console.post(
            f"/console/events/{event_id}/replay", headers={"X-CSRF-Token": token, "HX-Request": "true"}
        )
        assert replayed.status_code == 200 and event_id in replayed.text
    await wait_for(lambda: len(receiver.accepted()) > before, "the replayed event")
    assert receiver.accepted()[-1].body["id"] == event_id
