"""Voice and SMS registries built from the configuration and the environment, for the provider-type tests."""

from __future__ import annotations

import json
from typing import Any

from host.plugins.registry import ChannelRegistry
from host.settings import load_service_config
from tests.fakes.twilio import FakeTwilio
from tests.support.twilio_numbers import SENDER

__all__ = ["VOICE_SMS", "twilio_env", "voice_sms_registry"]

#: voice and SMS active, both sent from the Twilio fake's number
VOICE_SMS: dict[str, Any] = {"activeChannels": ["voice", "sms"], "sender": {"voice": SENDER, "sms": SENDER}}


def twilio_env(fake: FakeTwilio, prefix: str = "TWILIO_") -> dict[str, str]:
    return {
        f"{prefix}ACCOUNT_SID": fake.account_sid,
        f"{prefix}AUTH_TOKEN": fake.auth_token,
        f"{prefix}API_BASE": fake.url,
    }


def voice_sms_registry(environ: dict[str, str], channels: dict[str, Any] | None = None) -> ChannelRegistry:
    config = {**VOICE_SMS, **({"channels": channels} if channels else {})}
    return ChannelRegistry.build(load_service_config(json.dumps(config)), environ)
