"""The registry of channel and provider plugins, read from their entry points: the built-in ones, the
third-party test plugin, malformed plugins refused, and active channels checked against what is registered."""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint, entry_points

import pytest

from channels.kaleyra import KaleyraSms, KaleyraVoice
from channels.sms import SmsChannel
from channels.voice import VoiceChannel
from host.errors import ConfigurationError, PluginError
from host.plugins.registry import (
    ENTRY_POINT_GROUP,
    PROVIDER_ENTRY_POINT_GROUP,
    ChannelRegistry,
    discover_channel_types,
    discover_provider_types,
)
from host.settings import load_service_config
from tests.support.configs import WEBHOOK_INSTALLED
from tests.support.paths import ROOT

INSTALL = "uv pip install --python .venv/bin/python -e tests/plugins/tidings-webhook"


@pytest.fixture
def _installed() -> None:
    """Fails the test when the tidings-webhook plugin is not installed (instead of skipping it)."""
    if not WEBHOOK_INSTALLED:
        pytest.fail(f"the tidings-webhook test plugin is not installed: run `{INSTALL}`")


def test_the_builtin_provider_types_are_registered() -> None:
    found = discover_provider_types(discover_channel_types())
    assert found["voice"] == {"twilio": VoiceChannel, "kaleyra": KaleyraVoice}
    assert found["sms"] == {"twilio": SmsChannel, "kaleyra": KaleyraSms}


class _NamedWrong(KaleyraVoice):
    name = "sms"


class _OtherField(KaleyraVoice):
    address_field = "deviceToken"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("kaleyra", "channels.kaleyra:KaleyraVoice", "must be registered as '<channel>.<type>'"),
        ("voice.kaleyra", "tests.unit.host.plugins.test_registry:_NamedWrong", "declares name 'sms'"),
        (
            "voice.other",
            "tests.unit.host.plugins.test_registry:_OtherField",
            "reads addresses from 'deviceToken'",
        ),
        ("voice.missing", "channels.nope:Nope", "failed to import"),
    ],
)
def test_a_malformed_provider_plugin_is_refused(name: str, value: str, message: str) -> None:
    point = EntryPoint(name=name, value=value, group=PROVIDER_ENTRY_POINT_GROUP)
    with pytest.raises(PluginError, match=message):
        discover_provider_types(discover_channel_types(), [point])


@pytest.mark.usefixtures("_installed")
def test_listed_by_the_registry_from_its_own_distribution() -> None:
    types = discover_channel_types()
    assert types["webhook"].__module__ == "tidings_webhook"
    [point] = [p for p in entry_points(group=ENTRY_POINT_GROUP) if p.name == "webhook"]
    assert point.dist is not None and point.dist.name == "tidings-webhook"
    assert {"email", "sms", "voice", "push", "webhook"} <= set(types)


@pytest.mark.usefixtures("_installed")
def test_no_host_or_builtin_file_names_it() -> None:
    # the plugin's distribution, module or channel name; the host's own webhook events (host.events.webhooks)
    # are another feature and may say "webhook"
    names_it = re.compile(r"""tidings[_-]webhook|["']webhook["']|\bWEBHOOK_URL""")
    for package in ("host", "channels"):
        for path in (ROOT / package).rglob("*.py"):
            assert not names_it.search(path.read_text()), path


def test_active_channel_must_be_registered_and_have_its_sender() -> None:
    with pytest.raises(ConfigurationError, match=r"activeChannels\[1\].*unknown channel 'fax'"):
        ChannelRegistry.build(
            load_service_config('{"activeChannels": ["email", "fax"], "sender": {"email": "a@b.co"}}'), {}
        )
    with pytest.raises(ConfigurationError, match=r"sender\.email"):
        ChannelRegistry.build(load_service_config('{"activeChannels": ["email"]}'), {})
