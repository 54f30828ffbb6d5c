"""The voice channel as data: what it declares, options and sender checked, numbers parsed to E.164."""

from __future__ import annotations

from typing import Any

import pytest

from channels.twilio_client import TwilioConfig
from channels.voice import VoiceChannel
from host.errors import ConfigurationError, InvalidAddress
from host.plugins.channel import Channel, ChannelContext
from tests.support.twilio_numbers import SENDER


def test_declares_itself_as_data() -> None:
    assert VoiceChannel.name == "voice"
    assert VoiceChannel.address_field == "phoneNumber"
    assert VoiceChannel.env_prefix == "TWILIO_"
    assert dict(VoiceChannel.template_fields) == {"text": "voiceMessage"}
    assert VoiceChannel.required == ("text",)
    assert VoiceChannel.needs_sender is True
    assert isinstance(make_channel_for_protocol(), Channel)


def make_channel_for_protocol() -> VoiceChannel:
    return VoiceChannel(TwilioConfig(account_sid="AC1", auth_token="t"), ChannelContext(sender=SENDER))


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"speed": 2}, "channels.voice.speed"),
        ({"voice": ""}, "channels.voice.voice"),
        ({"language": 3}, "channels.voice.language"),
        ({"loop": 0}, "channels.voice.loop"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        VoiceChannel(
            TwilioConfig(account_sid="AC1", auth_token="t"), ChannelContext(sender=SENDER, options=options)
        )
    assert caught.value.key == key


def test_sender_must_be_a_phone_number() -> None:
    with pytest.raises(ConfigurationError) as caught:
        VoiceChannel(TwilioConfig(account_sid="AC1", auth_token="t"), ChannelContext(sender="Tidings"))
    assert caught.value.key == "sender.voice"


def test_parse_address() -> None:
    channel = make_channel_for_protocol()
    assert channel.parse_address("+39 06 1234 5678") == "+390612345678"
    with pytest.raises(InvalidAddress):
        channel.parse_address("06 1234 5678")
