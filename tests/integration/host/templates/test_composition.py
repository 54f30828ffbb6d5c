"""End to end over every channel: POST /send → workers → the SMTP sink, the Twilio fake, the push service,
each channel given the fields of its own template; and what each recipient of an e-mail with Cc and Bcc
copies receives over SMTP: only the user's own unsubscribe link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.push import PushService
from tests.fakes.twilio import FakeTwilio
from tests.support.channel_users import add_template, phone_for
from tests.support.configs import TWILIO_SENDER
from tests.support.stacks import Stack

CHANNELS = ["email", "sms", "voice", "push"]


async def test_every_channel_delivers_what_each_user_should_get(
    stack: Stack,
    unique: Callable[[str], str],
    fake_twilio: FakeTwilio,
    push_service: PushService,
    vapid_keys: tuple[str, str],
) -> None:
    people: dict[str, dict[str, Any]] = {}
    for name in ("Ada", "Bruno"):
        uid = unique(name.lower())
        people[uid] = {
            "fiscalCode": uid,
            "name": name,
            "mail": f"{uid}@example.org",
            "phoneNumber": phone_for(uid),
            "deviceToken": push_service.subscribe(application_server_key=vapid_keys[1]),
            "groups": [],
        }
    await stack.add_users(*people.values())
    template_id = await add_template(
        stack,
        unique("reminder"),
        email_title="Hello {{user.name}}",
        email_message="Dear {{user.name}}, see you on {{data.day}}.",
        sms_message="Hi {{user.name}}, see you on {{data.day}}",
        voice_message="Hello {{user.name}}. See you on {{data.day}} & bring <this>.",
        push_title="Reminder for {{user.name}}",
        push_subtitle="{{data.day}}",
        push_message="See you on {{data.day}}",
        push_data={"kind": "reminder", "id": 7},
    )

    result = await stack.send(
        {
            "channels": CHANNELS,
            "recipients": list(people),
            "templateId": template_id,
            "data": {"day": "Monday"},
        }
    )

    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {channel: {"sent": 2} for channel in CHANNELS}
    deliveries = {(d["userId"], d["channel"]): d for d in await stack.deliveries(result["dispatchId"])}
    assert {d["status"] for d in deliveries.values()} == {"sent"}
    assert {d["attempts"] for d in deliveries.values()} == {1}
    for uid, user in people.items():
        name, phone = user["name"], user["phoneNumber"]
        [mail] = stack.mails_to(user["mail"])
        assert mail.message["Subject"] == f"Hello {name}"
        assert mail.message.get_content().strip() == f"Dear {name}, see you on Monday."

        [sms] = [m for m in fake_twilio.messages if m.to == phone]
        assert (sms.from_, sms.body) == (TWILIO_SENDER, f"Hi {name}, see you on Monday")
        assert sms.auth_user == fake_twilio.account_sid
        assert deliveries[(uid, "sms")]["providerId"] == sms.sid

        [call] = [c for c in fake_twilio.calls if c.to == phone]
        assert call.from_ == TWILIO_SENDER
        twiml = call.twiml_tree()
        assert twiml.tag == "Response"
        [say] = list(twiml)
        assert say.tag == "Say"
        assert say.text == f"Hello {name}. See you on Monday & bring <this>."
        assert say.attrib == {"voice": "alice", "language": "it-IT"}
        assert deliveries[(uid, "voice")]["providerId"] == call.sid

        [push] = push_service.delivered(user["deviceToken"])
        assert push.json() == {
            "title": f"Reminder for {name}",
            "subtitle": "Monday",
            "body": "See you on Monday",
            "data": {"kind": "reminder", "id": 7},
            "androidIntentAction": "eu.tidings.test.OPEN",
        }
        assert push.vapid_key == vapid_keys[1]
        assert deliveries[(uid, "push")]["providerId"].startswith(push_service.url + "/message/")


async def test_copies_get_no_personal_unsubscribe_link(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("primary")
    address, cc, bcc = (f"{unique(name)}@example.org" for name in ("primary", "cc", "bcc"))
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Minutes",
            "messageContent": "The minutes of today",
            "emailCarbonCopies": [f"Carla <{cc}>"],
            "emailBlindCarbonCopies": [bcc],
        }
    )
    assert (await stack.wait_settled(result["dispatchId"]))["counts"] == {"email": {"sent": 1}}
    [own] = stack.mails_to(address)
    assert own.rcpt_tos == [address]  # the user's copy travels alone, with their own link
    assert own.message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/unsubscribe/")
    assert own.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = own.message["List-Unsubscribe"].rsplit("/", 1)[1].rstrip(">")
    for copy in (cc, bcc):
        [mail] = stack.mails_to(copy)
        assert mail.message["List-Unsubscribe"] is None and mail.message["List-Unsubscribe-Post"] is None
        assert token.encode() not in mail.data
        assert mail.message["To"] == address and cc in mail.message["Cc"]  # the same message otherwise
        assert mail.message["Message-ID"] == own.message["Message-ID"]
        assert mail.message.get_content().strip() == "The minutes of today"
    assert bcc.encode() not in stack.mails_to(cc)[0].data
