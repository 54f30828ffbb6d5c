"""The SMS channel as data: what it declares, configuration errors named by key, the token never shown."""

from __future__ import annotations

import pytest

from channels.sms import SmsChannel
from channels.twilio_client import TwilioConfig
from host.errors import ConfigurationError
from host.plugins.channel import ChannelContext
from tests.support.twilio_numbers import SENDER


def test_declares_itself_as_data() -> None:
    assert SmsChannel.name == "sms"
    assert SmsChannel.address_field == "phoneNumber"
    assert SmsChannel.env_prefix == "TWILIO_"
    assert SmsChannel.config_type is TwilioConfig
    assert dict(SmsChannel.template_fields) == {"text": "smsMessage"}
    assert SmsChannel.required == ("text",)
    assert SmsChannel.html_fields == ()
    assert SmsChannel.needs_sender is True
    assert SmsChannel.limits.batch_size == 50
    assert SmsChannel.limits.max_body_length == 1600


@pytest.mark.parametrize(
    ("config", "sender", "key"),
    [
        (TwilioConfig(auth_token="t"), SENDER, "TWILIO_ACCOUNT_SID"),
        (TwilioConfig(account_sid="AC1"), SENDER, "TWILIO_AUTH_TOKEN"),
        (TwilioConfig(account_sid="AC1", auth_token="t"), None, "sender.sms"),
        (TwilioConfig(account_sid="AC1", auth_token="t"), "not a sender!", "sender.sms"),
    ],
)
def test_configuration_errors_name_the_key(config: TwilioConfig, sender: str | None, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SmsChannel(config, ChannelContext(sender=sender))
    assert caught.value.key == key


def test_auth_token_never_in_repr() -> None:
    config = TwilioConfig(account_sid="AC1", auth_token="s3cr3t-token")
    assert "s3cr3t-token" not in repr(config)
    assert "s3cr3t-token" not in str([config])
    assert "s3cr3t-token" not in str(list(config.__rich_repr__()))
