"""Provider types: ``tidings.providers`` plugins picked by ``channels.<name>.providers[].type``, the rule that
picks Kaleyra for a Mia deployment, and failover from Twilio to Kaleyra through the real provider chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from channels.kaleyra import KaleyraSms, KaleyraVoice
from channels.sms import SmsChannel
from channels.voice import VoiceChannel
from host.delivery.failover import build_chains
from host.errors import ConfigurationError, PluginError
from host.plugins.channel import Message
from host.plugins.registry import (
    PROVIDER_ENTRY_POINT_GROUP,
    ChannelRegistry,
    discover_channel_types,
    discover_provider_types,
)
from host.settings import load_service_config
from tests.fakes.kaleyra import FakeKaleyra
from tests.fakes.twilio import FakeTwilio
from tests.support.twilio_numbers import SENDER, TO

BASE: dict[str, Any] = {"activeChannels": ["voice", "sms"], "sender": {"voice": SENDER, "sms": SENDER}}


@pytest.fixture(scope="module")
def kaleyra() -> Iterator[FakeKaleyra]:
    with FakeKaleyra(bridges={SENDER.removeprefix("+")}) as running:
        yield running


def twilio_env(fake: FakeTwilio, prefix: str = "TWILIO_") -> dict[str, str]:
    return {
        f"{prefix}ACCOUNT_SID": fake.account_sid,
        f"{prefix}AUTH_TOKEN": fake.auth_token,
        f"{prefix}API_BASE": fake.url,
    }


def build(environ: dict[str, str], channels: dict[str, Any] | None = None) -> ChannelRegistry:
    config = {**BASE, **({"channels": channels} if channels else {})}
    return ChannelRegistry.build(load_service_config(json.dumps(config)), environ)


def test_the_builtin_provider_types_are_registered() -> None:
    found = discover_provider_types(discover_channel_types())
    assert found["voice"] == {"twilio": VoiceChannel, "kaleyra": KaleyraVoice}
    assert found["sms"] == {"twilio": SmsChannel, "kaleyra": KaleyraSms}


def test_a_mia_deployment_with_only_kaleyra_set_calls_through_kaleyra(kaleyra: FakeKaleyra) -> None:
    registry = build(kaleyra.environ())
    assert isinstance(registry["voice"], KaleyraVoice)
    assert isinstance(registry["sms"], KaleyraSms)
    [slot] = registry.providers("voice")
    assert slot.name is None


def test_twilio_stays_the_default_when_its_variables_are_set(kaleyra: FakeKaleyra, fake: FakeTwilio) -> None:
    registry = build({**kaleyra.environ(), **twilio_env(fake)})
    assert isinstance(registry["voice"], VoiceChannel)
    assert isinstance(registry["sms"], SmsChannel)


def test_with_neither_set_the_channels_own_error_names_its_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build({})
    assert caught.value.key == "TWILIO_ACCOUNT_SID"


def test_a_providers_entry_picks_its_type_and_takes_its_prefix(
    kaleyra: FakeKaleyra, fake: FakeTwilio
) -> None:
    providers = [{"name": "twilio", "env": "TWILIO_"}, {"name": "kaleyra", "type": "kaleyra"}]
    registry = build({**kaleyra.environ(), **twilio_env(fake)}, {"voice": {"providers": providers}})
    primary, backup = registry.providers("voice")
    assert (primary.name, type(primary.channel)) == ("twilio", VoiceChannel)
    assert (backup.name, type(backup.channel)) == ("kaleyra", KaleyraVoice)
    assert registry["voice"] is primary.channel
    assert isinstance(registry["sms"], SmsChannel)  # its own default: TWILIO_* is set


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (
            {"name": "k", "type": "kaleyr"},
            "unknown provider type 'kaleyr' for the voice channel (registered: kaleyra, twilio)",
        ),
        (
            {"name": "k", "type": "kaleyra", "env": "KALEYRA_EU_"},
            "no environment variable KALEYRA_EU_* is set",
        ),
        ({"name": "k", "type": "kaleyra", "sid": "x"}, "must be"),
        ({"name": "k", "type": "kaleyra", "env": "KALEYRA_BAD_"}, "KALEYRA_BAD_*: voice channel"),
    ],
)
def test_a_wrong_provider_type_entry_is_named(
    kaleyra: FakeKaleyra, fake: FakeTwilio, entry: Any, reason: str
) -> None:
    environ = {**kaleyra.environ(), **twilio_env(fake), "KALEYRA_BAD_TIMEOUT": "soon"}
    with pytest.raises(ConfigurationError) as caught:
        build(environ, {"voice": {"providers": [{"name": "twilio"}, entry]}})
    assert caught.value.key == "channels.voice.providers[1]"
    assert reason in caught.value.reason


async def test_failover_from_twilio_to_kaleyra(kaleyra: FakeKaleyra, fake: FakeTwilio) -> None:
    kaleyra.reset()
    providers = [{"name": "twilio"}, {"name": "kaleyra", "type": "kaleyra"}]
    config = {**BASE, "channels": {"voice": {"providers": providers, "circuit": {"failures": 1}}}}
    service = load_service_config(json.dumps(config))
    registry = ChannelRegistry.build(service, {**kaleyra.environ(), **twilio_env(fake)})
    chain = build_chains(service, registry)["voice"]
    fake.script([503])
    async with chain.open() as sender:
        first = await sender.send(Message(text="Primo"), TO)  # Twilio 503: Kaleyra takes it
        second = await sender.send(Message(text="Secondo"), TO)  # Twilio's circuit is open: Kaleyra
    assert (first.provider, second.provider) == ("kaleyra (kaleyra)", "kaleyra (kaleyra)")
    assert [call.target() for call in kaleyra.calls] == [[{"message": "Primo"}], [{"message": "Secondo"}]]
    assert [r.status for r in fake.received] == [503]
    assert fake.calls == []


class _NamedWrong(KaleyraVoice):
    name = "sms"


class _OtherField(KaleyraVoice):
    address_field = "deviceToken"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("kaleyra", "channels.kaleyra:KaleyraVoice", "must be registered as '<channel>.<type>'"),
        ("voice.kaleyra", "tests.integration.host.plugins.test_providers:_NamedWrong", "declares name 'sms'"),
        (
            "voice.other",
            "tests.integration.host.plugins.test_providers:_OtherField",
            "reads addresses from 'deviceToken'",
        ),
        ("voice.missing", "channels.nope:Nope", "failed to import"),
    ],
)
def test_a_malformed_provider_plugin_is_refused(name: str, value: str, message: str) -> None:
    point = EntryPoint(name=name, value=value, group=PROVIDER_ENTRY_POINT_GROUP)
    with pytest.raises(PluginError, match=message):
        discover_provider_types(discover_channel_types(), [point])
