"""A channel's rate: ``channels.<name>.ratePerSecond`` over the channel's declared one, checked and named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from host.errors import ConfigurationError
from host.plugins.rates import configured_rate
from host.settings import load_service_config


def test_configured_rate_overrides_the_declared_one() -> None:
    from channels.sms import SmsChannel
    from channels.voice import VoiceChannel

    config = load_service_config(
        json.dumps(
            {
                "activeChannels": ["sms"],
                "channels": {"sms": {"ratePerSecond": 2.5}, "voice": {"ratePerSecond": None}},
            }
        )
    )
    assert configured_rate(config, "sms", SmsChannel) == 2.5
    assert configured_rate(config, "voice", VoiceChannel) is None
    assert configured_rate(load_service_config('{"activeChannels": ["voice"]}'), "voice", VoiceChannel) == 1.0


@pytest.mark.parametrize("value", [0, -1, "fast", True, [1]])
def test_a_wrong_rate_names_the_key(value: Any) -> None:
    from channels.sms import SmsChannel

    config = load_service_config(
        json.dumps({"activeChannels": ["sms"], "channels": {"sms": {"ratePerSecond": value}}})
    )
    with pytest.raises(ConfigurationError) as caught:
        configured_rate(config, "sms", SmsChannel)
    assert caught.value.key == "channels.sms.ratePerSecond"
