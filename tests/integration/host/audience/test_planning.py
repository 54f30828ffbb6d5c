"""Planning through the whole service: a user gets only the channels they have an address for."""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.twilio import FakeTwilio
from tests.support.channel_users import phone_for
from tests.support.stacks import Stack

CHANNELS = ["email", "sms", "voice", "push"]


async def test_a_user_gets_only_the_channels_they_have_an_address_for(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    uid = unique("phone-only")
    phone = phone_for(uid)
    await stack.add_users({"fiscalCode": uid, "phoneNumber": phone, "groups": []})
    result = await stack.send(
        {"channels": CHANNELS, "recipients": [uid], "messageTitle": "T", "messageContent": "Call me"}
    )
    failures = {f["channel"]: f["error"] for f in result["failures"]}
    assert set(failures) == {"email", "push"}
    assert "no deviceToken" in failures["push"]
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {
        "email": {"skipped": 1},
        "sms": {"sent": 1},
        "voice": {"sent": 1},
        "push": {"skipped": 1},
    }
    assert [m.body for m in fake_twilio.messages if m.to == phone] == ["Call me"]
    assert len([c for c in fake_twilio.calls if c.to == phone]) == 1
