"""The voice channel through the real Twilio SDK against the Twilio fake (tests/fakes/twilio.py)."""

from __future__ import annotations

from typing import Any

import pytest

from channels.twilio_client import TwilioConfig
from channels.voice import DEFAULT_LANGUAGE, DEFAULT_VOICE, VoiceChannel
from host.errors import PermanentChannelError, TransientChannelError
from host.plugins.channel import ChannelContext, Message
from tests.fakes.twilio import FakeTwilio, ScriptedResponse
from tests.support.twilio_numbers import INVALID, SENDER, TO


def make_channel(
    fake: FakeTwilio, options: dict[str, Any] | None = None, token: str | None = None
) -> VoiceChannel:
    config = TwilioConfig(
        account_sid=fake.account_sid, auth_token=token or fake.auth_token, api_base=fake.url, timeout=5.0
    )
    return VoiceChannel(config, ChannelContext(sender=SENDER, options=options or {}))


async def call(channel: VoiceChannel, text: str, to: str = TO) -> str:
    async with channel.open() as sender:
        receipt = await sender.send(Message(text=text), to)
    assert receipt.provider == "twilio"
    return receipt.provider_id


async def test_calls_with_say_twiml(fake: FakeTwilio) -> None:
    text = "Ciao <Alice> & co: l'appuntamento è domani"
    sid = await call(make_channel(fake), text)
    [received] = fake.calls
    assert sid.startswith("CA") and received.sid == sid
    assert (received.to, received.from_, received.auth_user) == (TO, SENDER, fake.account_sid)
    root = received.twiml_tree()
    assert root.tag == "Response"
    [say] = list(root)
    assert say.tag == "Say"
    assert say.text == text
    assert say.attrib == {"voice": DEFAULT_VOICE, "language": DEFAULT_LANGUAGE}


async def test_voice_and_language_from_options(fake: FakeTwilio) -> None:
    channel = make_channel(fake, {"voice": "Polly.Bianca", "language": "it-IT", "loop": 2})
    await call(channel, "Buongiorno")
    say = fake.calls[0].twiml_tree().find("Say")
    assert say is not None
    assert say.attrib == {"voice": "Polly.Bianca", "language": "it-IT", "loop": "2"}


async def test_invalid_number_is_permanent_21211(fake: FakeTwilio) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await call(make_channel(fake), "x", to=INVALID)
    assert caught.value.code == "21211"


async def test_wrong_token_is_permanent_20003(fake: FakeTwilio) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await call(make_channel(fake, token="wrong"), "x")
    assert caught.value.code == "20003"


async def test_rate_limit_and_server_errors_are_transient(fake: FakeTwilio) -> None:
    fake.script([ScriptedResponse(429, retry_after="1"), 500])
    channel = make_channel(fake)
    async with channel.open() as sender:
        with pytest.raises(TransientChannelError) as limited:
            await sender.send(Message(text="x"), TO)
        with pytest.raises(TransientChannelError) as failed:
            await sender.send(Message(text="x"), TO)
        await sender.send(Message(text="x"), TO)
    assert limited.value.retry_after == 1.0
    assert failed.value.code == "20500"
    assert len(fake.calls) == 1


async def test_too_long_message_is_permanent_and_not_sent(fake: FakeTwilio) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await call(make_channel(fake), "&" * 1000)  # escaping makes it 5,000 characters of TwiML
    assert caught.value.code == "body-too-long"
    assert fake.received == []
