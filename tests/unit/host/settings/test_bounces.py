"""The ``bounces`` object of the configuration file: defaults, and the exact key named when it is wrong."""

from __future__ import annotations

import json

import pytest

from host.errors import ConfigurationError
from host.settings import load_service_config
from host.settings.bounces import host_matches

BASE = {"activeChannels": ["email"], "sender": {"email": "Tidings <noreply@Mail.Example.org>"}}


def config(bounces: object) -> bytes:
    return json.dumps({**BASE, "bounces": bounces}).encode()


def test_defaults_are_documented_ones() -> None:
    bounces = load_service_config(json.dumps(BASE)).bounces
    assert bounces.domain_for("Tidings <noreply@Mail.Example.org>") == "mail.example.org"
    assert (bounces.local_part, bounces.soft_bounces.limit, bounces.soft_bounces.window_days) == (
        "bounces",
        3,
        7.0,
    )
    assert bounces.ses is None and bounces.replay_window_seconds == 300
    assert (
        load_service_config(config({"domain": "b.example.org"})).bounces.domain_for("x@y.org")
        == "b.example.org"
    )


@pytest.mark.parametrize(
    ("bounces", "key"),
    [
        ({"sofBounces": {"limit": 2}}, "bounces"),  # a typo is named
        ({"domain": "not a domain"}, "bounces.domain"),
        ({"softBounces": {"limit": 0}}, "bounces.softBounces.limit"),
        ({"softBounces": {"windowDays": -1}}, "bounces.softBounces.windowDays"),
        ({"ses": {"certificateHosts": ["https://sns.example.com/"]}}, "bounces.ses.certificateHosts[0]"),
        ({"ses": {"topicArn": "arn"}}, "bounces.ses"),
        ({"localPart": "Bounces+"}, "bounces.localPart"),
        ({"maxMessageBytes": 100}, "bounces.maxMessageBytes"),
    ],
)
def test_a_wrong_key_is_named(bounces: object, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(config(bounces))
    assert caught.value.key == key


def test_certificate_host_patterns_match_one_label_per_star() -> None:
    assert host_matches("sns.*.amazonaws.com", "sns.eu-west-1.amazonaws.com")
    assert host_matches("sns.*.amazonaws.com", "SNS.US-EAST-1.AMAZONAWS.COM")
    assert not host_matches("sns.*.amazonaws.com", "sns.amazonaws.com")
    assert not host_matches("sns.*.amazonaws.com", "sns.a.b.amazonaws.com")
    assert not host_matches("sns.*.amazonaws.com", "sns.eu-west-1.amazonaws.com.evil.example")
    assert host_matches("127.0.0.1:8443", "127.0.0.1:8443") and not host_matches(
        "127.0.0.1:8443", "127.0.0.1"
    )
