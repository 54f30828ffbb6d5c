"""Configuration: decoded into typed Structs; anything wrong names its key and stops start-up."""

from __future__ import annotations

import json

import pytest

from host.errors import ConfigurationError
from host.settings import load_service_config


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
        ({"activeChannels": ["email"], "templateSyntax": "mustache"}, "templateSyntax"),
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


def test_template_syntax_is_handlebars_unless_set_as_in_a_mia_configuration() -> None:
    mia = load_service_config('{"activeChannels": ["email"], "sender": {"email": "a@b.co"}}')
    assert mia.template_syntax == "handlebars"
    jinja = load_service_config('{"activeChannels": ["email"], "templateSyntax": "jinja"}')
    assert jinja.template_syntax == "jinja"
    with pytest.raises(ConfigurationError) as caught:
        load_service_config('{"activeChannels": ["email"], "templateSyntax": "mustache"}')
    assert caught.value.key == "templateSyntax" and "mustache" in caught.value.reason
