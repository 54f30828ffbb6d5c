"""Configuration: decoded into typed Structs; anything wrong names its key and stops start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.errors import ConfigurationError
from host.plugins.registry import ChannelRegistry
from host.settings import load_service_config, load_settings
from tests.support.cli_runs import worker_with_config


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({}, "(root)"),
        ({"activeChannels": "email"}, "activeChannels"),
        ({"activeChannels": []}, "activeChannels"),
        ({"activeChannels": ["email"], "userFields": {"mail": "x"}}, "userFields"),
        ({"activeChannels": ["email"], "userFields": {"id": 3}}, "userFields.id"),
        ({"activeChannels": ["email"], "sender": {"email": 5}}, "sender.email"),
        ({"activeChannels": ["email"], "delivery": {"maxAttempts": "many"}}, "delivery.maxAttempts"),
        ({"activeChannels": ["email"], "typo": 1}, "typo"),
    ],
)
def test_a_wrong_key_is_named(config: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(json.dumps(config))
    assert key in str(caught.value)


def test_defaults_follow_the_spec() -> None:
    config = load_service_config('{"activeChannels": ["email"], "sender": {"email": "a@b.co"}}')
    fields = config.user_fields
    assert (fields.id, fields.email_address, fields.phone_number, fields.device_token, fields.clusters) == (
        "_id",
        "emailAddress",
        "phoneNumber",
        "deviceToken",
        "clusters",
    )


def test_active_channel_must_be_registered_and_have_its_sender() -> None:
    with pytest.raises(ConfigurationError, match=r"activeChannels\[1\].*unknown channel 'fax'"):
        ChannelRegistry.build(
            load_service_config('{"activeChannels": ["email", "fax"], "sender": {"email": "a@b.co"}}'), {}
        )
    with pytest.raises(ConfigurationError, match=r"sender\.email"):
        ChannelRegistry.build(load_service_config('{"activeChannels": ["email"]}'), {})


def test_missing_configuration_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CONFIGURATION_PATH"):
        load_settings({})
    with pytest.raises(ConfigurationError, match="CONFIGURATION_PATH"):
        load_settings({"CONFIGURATION_PATH": str(tmp_path / "absent.json")})


def test_the_service_refuses_to_start_and_names_the_key(tmp_path: Path) -> None:
    done = worker_with_config(tmp_path, {"activeChannels": ["email"], "sender": {}})
    assert done.returncode != 0
    assert "sender.email" in done.stderr
