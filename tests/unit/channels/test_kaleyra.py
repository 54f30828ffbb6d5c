"""Kaleyra for voice and SMS, as data: what it declares, configuration errors named, no key shown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.kaleyra import KaleyraConfig, KaleyraSms, KaleyraVoice
from host.errors import ConfigurationError
from host.plugins.channel import Channel, ChannelContext
from tests.support.twilio_numbers import SENDER


def test_declares_itself_like_the_channels_it_serves() -> None:
    for provider, template_field in ((KaleyraVoice, "voiceMessage"), (KaleyraSms, "smsMessage")):
        assert provider.address_field == "phoneNumber"
        assert provider.env_prefix == "KALEYRA_"
        assert dict(provider.template_fields) == {"text": template_field}
        assert provider.needs_sender is True
    assert (KaleyraVoice.name, KaleyraSms.name) == ("voice", "sms")
    assert isinstance(
        KaleyraVoice(KaleyraConfig(api_key="k", sid="s"), ChannelContext(sender=SENDER)), Channel
    )


@pytest.mark.parametrize(
    ("provider", "values", "context", "key"),
    [
        (KaleyraVoice, {"sid": "s"}, ChannelContext(sender=SENDER), "KALEYRA_API_KEY"),
        (KaleyraVoice, {"api_key": "k"}, ChannelContext(sender=SENDER), "KALEYRA_SID"),
        (KaleyraVoice, {"api_key": "k", "sid": "s"}, ChannelContext(sender="Tidings"), "sender.voice"),
        (
            KaleyraVoice,
            {"api_key": "k", "sid": "s"},
            ChannelContext(sender=SENDER, options={"speed": 2}),
            "channels.voice.speed",
        ),
        (KaleyraSms, {"api_key": "k", "sid": "s"}, ChannelContext(sender="not a sender id"), "sender.sms"),
        (
            KaleyraSms,
            {"api_key": "k", "sid": "s", "sms_type": "PROMO"},
            ChannelContext(sender="TID"),
            "KALEYRA_SMS_TYPE",
        ),
    ],
)
def test_configuration_errors_name_the_key(
    provider: type[KaleyraVoice | KaleyraSms], values: dict[str, Any], context: ChannelContext, key: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider(KaleyraConfig(**values), context)
    assert caught.value.key == key


def test_the_voice_channels_own_options_are_accepted() -> None:
    context = ChannelContext(sender=SENDER, options={"voice": "alice", "language": "it-IT", "loop": 2})
    assert KaleyraVoice(KaleyraConfig(api_key="k", sid="s"), context).bridge == SENDER.removeprefix("+")


def test_the_api_key_never_reaches_repr() -> None:
    secret = "A" + "7" * 32
    config = KaleyraConfig(api_key=secret, sid="HX1")
    assert secret not in repr(config)
    assert secret not in json.dumps([str(item) for item in config.__rich_repr__()])
