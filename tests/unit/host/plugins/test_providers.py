"""A channel's providers read from ``channels.<name>.providers`` and ``circuit``: entries named when wrong,
the primary answering for the channel, and the rule that picks a provider type from the variables set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from host.errors import ConfigurationError
from host.plugins.registry import ChannelRegistry
from host.settings import load_service_config
from tests.support.configs import BASE_CONFIG
from tests.support.providers import voice_sms_registry


def email_registry(providers: Any, environ: dict[str, str]) -> ChannelRegistry:
    config = {**BASE_CONFIG, "channels": {"email": {"providers": providers}}}
    return ChannelRegistry.build(load_service_config(json.dumps(config)), environ)


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ({"name": "backup", "env": "SMTP_BAKUP_"}, "no environment variable SMTP_BAKUP_* is set"),
        ({"name": "backup"}, "env 'SMTP_' is used by another provider"),
        ({"name": "primary", "env": "SMTP_BACKUP_"}, "listed twice"),
        ({"env": "SMTP_BACKUP_"}, "must be"),
        ("SMTP_BACKUP_", "must be"),
        ({"name": "backup", "env": "SMTP_BACKUP_", "weight": 2}, "must be"),
        ({"name": "backup", "env": "smtp-backup"}, "must be upper-case"),
        ({"name": "backup", "env": "SMTP_BAD_"}, "SMTP_BAD_*: email channel"),  # refused by the channel
    ],
)
def test_a_wrong_provider_entry_is_named(second: Any, reason: str) -> None:
    environ = {"SMTP_BACKUP_HOST": "relay.example.org", "SMTP_BAD_PORT": "not a port"}
    with pytest.raises(ConfigurationError) as caught:
        email_registry([{"name": "primary", "env": "SMTP_"}, second], environ)
    assert caught.value.key == "channels.email.providers[1]"
    assert reason in caught.value.reason


def test_providers_and_circuit_must_be_well_formed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        email_registry([], {})
    assert caught.value.key == "channels.email.providers"
    config = {**BASE_CONFIG, "channels": {"email": {"circuit": {"failures": 0}}}}
    with pytest.raises(ConfigurationError) as caught:
        ChannelRegistry.build(load_service_config(json.dumps(config)), {})
    assert caught.value.key == "channels.email.circuit.failures"


def test_the_primary_answers_for_the_channel_and_options_stay_with_the_host() -> None:
    registry = email_registry(
        [{"name": "primary", "env": "SMTP_"}, {"name": "backup", "env": "SMTP_BACKUP_"}],
        {"SMTP_HOST": "a.example.org", "SMTP_BACKUP_HOST": "b.example.org", "SMTP_BACKUP_PORT": "2526"},
    )
    [primary, backup] = registry.providers("email")
    assert registry["email"] is primary.channel
    assert (primary.name, backup.name) == ("primary", "backup")
    assert getattr(backup.channel, "provider", None) == "smtp://b.example.org:2526"
    assert dict(getattr(registry["email"], "context").options) == {}  # noqa: B009


def test_with_neither_set_the_channels_own_error_names_its_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        voice_sms_registry({})
    assert caught.value.key == "TWILIO_ACCOUNT_SID"
