"""The push channel as data: what it declares, subscriptions refused when malformed, configuration errors
named by variable, the private key never shown."""

from __future__ import annotations

import pytest

from channels.push import PushChannel, PushConfig
from host.errors import ConfigurationError, InvalidAddress
from host.plugins.channel import Channel, ChannelContext
from tests.fakes.push import b64url
from tests.support.vapid import SUBJECT, VapidKey, make_channel


@pytest.fixture(scope="module")
def vapid() -> VapidKey:
    return VapidKey()


@pytest.fixture
def channel(vapid: VapidKey) -> PushChannel:
    return make_channel(vapid.private)


def test_declares_itself_as_data(channel: PushChannel) -> None:
    assert PushChannel.name == "push"
    assert PushChannel.address_field == "deviceToken"
    assert PushChannel.env_prefix == "VAPID_"
    assert PushChannel.config_type is PushConfig
    assert dict(PushChannel.template_fields) == {
        "subject": "pushTitle",
        "subtitle": "pushSubtitle",
        "text": "pushMessage",
        "data": "pushData",
    }
    assert PushChannel.required == ("subject|text|data",)  # title and body optional, as in Mia >= 1.5
    assert PushChannel.needs_sender is False
    assert isinstance(channel, Channel)


def _bad_subscriptions() -> list[object]:
    point = b64url(b"\x04" + b"\x01" * 64)  # 65 bytes, not on the curve
    good = {"p256dh": VapidKey().public, "auth": b64url(b"a" * 16)}
    return [
        None,
        42,
        "not json",
        "[]",
        {"keys": good},
        {"endpoint": "ftp://push.example/x", "keys": good},
        {"endpoint": "https:///nohost", "keys": good},
        {"endpoint": "https://push.example/x"},
        {"endpoint": "https://push.example/x", "keys": {"auth": good["auth"]}},
        {"endpoint": "https://push.example/x", "keys": {**good, "p256dh": point}},
        {"endpoint": "https://push.example/x", "keys": {**good, "p256dh": "!!!"}},
        {"endpoint": "https://push.example/x", "keys": {**good, "auth": b64url(b"short")}},
    ]


@pytest.mark.parametrize("raw", _bad_subscriptions())
def test_parse_address_refuses(channel: PushChannel, raw: object) -> None:
    with pytest.raises(InvalidAddress):
        channel.parse_address(raw)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (PushConfig(subject=SUBJECT), "VAPID_PRIVATE_KEY"),
        (PushConfig(private_key="bm90IGEga2V5", subject=SUBJECT), "VAPID_PRIVATE_KEY"),
        (PushConfig(private_key="x"), "VAPID_SUBJECT"),
        (PushConfig(private_key="x", subject="ops@tidings.example"), "VAPID_SUBJECT"),
    ],
)
def test_configuration_errors_name_the_key(config: PushConfig, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PushChannel(config, ChannelContext())
    assert caught.value.key == key


def test_private_key_never_in_repr(vapid: VapidKey) -> None:
    config = PushConfig(private_key=vapid.private, subject=SUBJECT)
    assert vapid.private not in repr(config)
    assert vapid.private not in str(list(config.__rich_repr__()))
