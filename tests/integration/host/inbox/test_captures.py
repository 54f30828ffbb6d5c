"""The inbox end to end: messages of unconfigured channels captured as their providers would get them.

Every channel of the stack is active with no provider variable set, as a first ``tidings run``. What is
captured is checked against the real peers: the e-mail's bytes go through an SMTP transaction unchanged,
the SMS and call requests are accepted by the Twilio fake (which checks what Twilio checks) when replayed
there with real credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import aiosmtplib
import httpx
import msgspec
import pytest

from host.errors import PermanentChannelError
from host.inbox.captures import CHUNK_BYTES, CHUNKS_COLLECTION, Inbox
from host.inbox.views import attachment as read_attachment
from host.plugins.capture import Capture
from tests.fakes.files import FileService
from tests.fakes.push import PushService
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.integration.host.inbox.conftest import INBOX_CONFIG
from tests.support.configs import TWILIO_SENDER
from tests.support.stacks import Stack

PHONE = "+393330000042"


async def _user(stack: Stack, unique: Callable[[str], str], **fields: Any) -> tuple[str, str]:
    uid = unique("ada")
    mail = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": mail, "name": "Ada", **fields})
    return uid, mail


async def _captures(stack: Stack, **query: str) -> list[dict[str, Any]]:
    response = await stack.client.get("/dev/inbox", params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_every_unconfigured_channel_is_captured_and_its_delivery_sent(
    inbox_stack: Stack, unique: Callable[[str], str], push_service: PushService
) -> None:
    subscription = push_service.subscribe()
    uid, mail = await _user(inbox_stack, unique, phone=PHONE, device=subscription)
    assert set(inbox_stack.runtime.registry.captured) == set(INBOX_CONFIG["activeChannels"])
    result = await inbox_stack.send(
        {
            "channels": ["email", "sms", "voice", "push"],
            "recipients": [uid],
            "messageTitle": "Hello {{ user.name }}",
            "messageContent": "Your code is {{ data.code }}",
            "data": {"code": "4711"},
        }
    )
    view = await inbox_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {channel: {"sent": 1} for channel in ("email", "sms", "voice", "push")}
    deliveries = await inbox_stack.deliveries(result["dispatchId"])
    captures = {capture["id"]: capture for capture in await _captures(inbox_stack)}
    for delivery in deliveries:  # each delivery names its capture
        assert delivery["provider"] == "inbox"
        assert captures[delivery["providerId"]]["channel"] == delivery["channel"]
    by_channel = {captures[d["providerId"]]["channel"]: captures[d["providerId"]] for d in deliveries}

    email = by_channel["email"]
    assert (email["to"], email["provider"], email["summary"]) == (mail, "smtp", "Hello Ada")
    # MAIL FROM is the delivery's VERP address (its bounces come back to Tidings), as sent for real
    verp = inbox_stack.runtime.bounce_addresses
    assert verp is not None
    [email_delivery] = [d for d in deliveries if d["channel"] == "email"]
    assert email["request"]["mailFrom"] == verp.envelope_sender(email_delivery["id"])
    assert email["request"]["rcptTo"] == [mail]
    sms = by_channel["sms"]["request"]
    assert sms["method"] == "POST" and sms["url"].endswith("/Messages.json")
    assert sms["form"] == {"To": PHONE, "From": TWILIO_SENDER, "Body": "Your code is 4711"}
    assert "Authorization" not in sms["headers"]
    call = by_channel["voice"]["request"]
    assert call["url"].endswith("/Calls.json")
    assert "<Say" in call["form"]["Twiml"] and "Your code is 4711" in call["form"]["Twiml"]
    push = by_channel["push"]
    assert push["provider"] == "webpush"
    assert push["request"]["url"] == subscription["endpoint"]
    assert push["request"]["payload"] == {
        "title": "Hello Ada",
        "subtitle": None,
        "body": "Your code is 4711",
        "data": {},
        "androidIntentAction": "eu.tidings.test.OPEN",
    }
    assert push_service.delivered(subscription) == []  # captured, never pushed


async def test_the_captured_email_is_what_an_smtp_server_receives(
    inbox_stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, mail = await _user(inbox_stack, unique)
    result = await inbox_stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Grüße, {{ user.name }}",
            "messageContent": "Über alles: ☃",
            "emailCarbonCopies": ["copy@example.org"],
            "emailBlindCarbonCopies": ["hidden@example.org"],
        }
    )
    await inbox_stack.wait_settled(result["dispatchId"])
    [delivery] = await inbox_stack.deliveries(result["dispatchId"])
    capture = (await inbox_stack.client.get(f"/dev/inbox/{delivery['providerId']}")).json()
    raw = (await inbox_stack.client.get(f"/dev/inbox/{delivery['providerId']}/raw")).content
    assert capture["email"]["subject"] == "Grüße, Ada"
    assert capture["email"]["text"].strip() == "Über alles: ☃"
    assert capture["email"]["cc"] == ["copy@example.org"]
    # Bcc is in the envelope only, as on the wire
    assert capture["request"]["rcptTo"] == [mail, "copy@example.org", "hidden@example.org"]
    assert b"hidden@example.org" not in raw
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")

    # replayed as an SMTP transaction, the server receives exactly these bytes
    with SmtpSink() as sink:
        await aiosmtplib.send(
            raw,
            sender=capture["request"]["mailFrom"],
            recipients=capture["request"]["rcptTo"],
            hostname=sink.host,
            port=sink.port,
        )
        [received] = sink.received
    assert received.data == raw
    assert received.message["Subject"] == "Grüße, Ada"


async def test_the_captured_twilio_requests_are_accepted_by_twilio(
    inbox_stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    uid, _ = await _user(inbox_stack, unique, phone=PHONE)
    result = await inbox_stack.send(
        {"channels": ["sms", "voice"], "recipients": [uid], "messageTitle": "t", "messageContent": "Ciao €"}
    )
    await inbox_stack.wait_settled(result["dispatchId"])
    ids = {d["channel"]: d["providerId"] for d in await inbox_stack.deliveries(result["dispatchId"])}
    fake_twilio.reset()
    for channel in ("sms", "voice"):
        request = (await inbox_stack.client.get(f"/dev/inbox/{ids[channel]}")).json()["request"]
        url = request["url"].replace("https://api.twilio.com", fake_twilio.url)
        url = url.replace("AC" + "0" * 32, fake_twilio.account_sid)  # the inbox names no real account
        answer = httpx.post(
            url, data=request["form"], auth=(fake_twilio.account_sid, fake_twilio.auth_token), timeout=10
        )
        assert answer.status_code == 201, answer.text
    [message] = fake_twilio.messages
    assert (message.to, message.from_, message.body) == (PHONE, TWILIO_SENDER, "Ciao €")
    [call] = fake_twilio.calls
    assert call.twiml_tree().find("Say").text == "Ciao €"  # type: ignore[union-attr]


async def test_an_fcm_token_is_captured_as_the_messages_send_body(
    inbox_stack: Stack, unique: Callable[[str], str]
) -> None:
    token = "fcm-token-" + "x" * 40
    uid, _ = await _user(inbox_stack, unique, device=token)
    result = await inbox_stack.send(
        {"channels": ["push"], "recipients": [uid], "messageTitle": "Hi", "messageContent": "there"}
    )
    await inbox_stack.wait_settled(result["dispatchId"])
    [delivery] = await inbox_stack.deliveries(result["dispatchId"])
    capture = (await inbox_stack.client.get(f"/dev/inbox/{delivery['providerId']}")).json()
    assert capture["provider"] == "fcm"
    assert capture["request"]["url"].endswith("/messages:send")
    message = capture["request"]["json"]["message"]
    assert message["token"] == token
    assert message["notification"] == {"title": "Hi", "body": "there"}
    assert message["android"]["notification"]["click_action"] == "eu.tidings.test.OPEN"


async def test_a_15_mb_email_is_kept_whole(
    inbox_stack: Stack, unique: Callable[[str], str], files: FileService
) -> None:
    big = os.urandom(15 * 1024 * 1024)
    name = unique("scan") + ".bin"
    files.put(name, big)
    uid, _ = await _user(inbox_stack, unique)
    result = await inbox_stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "The scan",
            "messageContent": "attached",
            "emailAttachments": [name],
        }
    )
    view = await inbox_stack.wait_settled(result["dispatchId"], timeout=60)
    assert view["counts"] == {"email": {"sent": 1}}
    [delivery] = await inbox_stack.deliveries(result["dispatchId"])
    capture_id = delivery["providerId"]
    capture = (await inbox_stack.client.get(f"/dev/inbox/{capture_id}")).json()
    assert capture["size"] > 16 * 1024 * 1024  # more than one MongoDB document holds
    chunks = await inbox_stack.db[CHUNKS_COLLECTION].count_documents({"_id": {"$regex": f"^{capture_id}:"}})
    assert chunks == -(-capture["size"] // CHUNK_BYTES)
    [attachment] = capture["email"]["attachments"]
    assert attachment["size"] == len(big)
    raw = (await inbox_stack.client.get(f"/dev/inbox/{capture_id}/raw")).content
    assert len(raw) == capture["size"]
    _, content = read_attachment(raw, 0)
    assert content == big


async def test_a_capture_past_the_limit_is_refused_naming_the_sizes(inbox_stack: Stack) -> None:
    inbox = Inbox(inbox_stack.db, max_bytes=1024 * 1024)
    capture = Capture(channel="email", to="a@example.org", provider="smtp", summary="big", request={})
    with pytest.raises(PermanentChannelError) as refused:
        await inbox.keep(msgspec.structs.replace(capture, raw=b"x" * (2 * 1024 * 1024)))
    assert refused.value.message == "the email message is 2.0 MB: the inbox keeps messages of at most 1.0 MB"
    assert refused.value.code == "too-large"
    kept = await inbox.keep(msgspec.structs.replace(capture, raw=b"x" * 1024))  # a smaller one is kept
    assert await inbox.raw(kept) == b"x" * 1024


async def test_search_takes_the_text_literally_and_clear_empties_the_inbox(
    inbox_stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, mail = await _user(inbox_stack, unique, phone=PHONE)
    result = await inbox_stack.send(
        {"channels": ["email", "sms"], "recipients": [uid], "messageTitle": "s", "messageContent": "s"}
    )
    await inbox_stack.wait_settled(result["dispatchId"])
    assert [c["to"] for c in await _captures(inbox_stack, to=uid.upper())] == [mail]  # any case
    phones = await _captures(inbox_stack, to="+3933300000")  # a "+" first: as a regex it would not compile
    assert phones and {c["to"] for c in phones} == {PHONE}
    for pattern in (".*", "(", "[a-z]+@", "^" + mail, "\\"):  # taken literally: none matches
        assert await _captures(inbox_stack, to=pattern) == [], pattern
    assert [c["to"] for c in await _captures(inbox_stack, to=mail, channel="email")] == [mail]

    cleared = await inbox_stack.client.delete("/dev/inbox")
    assert cleared.status_code == 200
    assert cleared.json()["deleted"] >= 2
    assert await _captures(inbox_stack) == []
    assert await inbox_stack.db[CHUNKS_COLLECTION].count_documents({}) == 0
    missing = await inbox_stack.client.get(f"/dev/inbox/{result['dispatchId']}")
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("id: no capture")


async def test_the_inbox_is_not_served_outside_the_embedded_mode(stack: Stack) -> None:
    assert stack.runtime.inbox is None and stack.runtime.registry.captured == {}
    assert (await stack.client.get("/dev/inbox")).status_code == 404
    assert (await stack.client.delete("/dev/inbox")).status_code in (404, 405)
