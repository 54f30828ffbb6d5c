"""Provider types: ``tidings.providers`` plugins picked by ``channels.<name>.providers[].type`` and the rule
that picks Kaleyra for a Mia deployment, against the fakes' variables; a worker refusing a wrong entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from channels.kaleyra import KaleyraSms, KaleyraVoice
from channels.sms import SmsChannel
from channels.voice import VoiceChannel
from host.errors import ConfigurationError
from tests.fakes.kaleyra import FakeKaleyra
from tests.fakes.twilio import FakeTwilio
from tests.support.cli_runs import worker_with_config
from tests.support.configs import BASE_CONFIG
from tests.support.providers import twilio_env, voice_sms_registry


def test_a_mia_deployment_with_only_kaleyra_set_calls_through_kaleyra(kaleyra: FakeKaleyra) -> None:
    registry = voice_sms_registry(kaleyra.environ())
    assert isinstance(registry["voice"], KaleyraVoice)
    assert isinstance(registry["sms"], KaleyraSms)
    [slot] = registry.providers("voice")
    assert slot.name is None


def test_twilio_stays_the_default_when_its_variables_are_set(kaleyra: FakeKaleyra, fake: FakeTwilio) -> None:
    registry = voice_sms_registry({**kaleyra.environ(), **twilio_env(fake)})
    assert isinstance(registry["voice"], VoiceChannel)
    assert isinstance(registry["sms"], SmsChannel)


def test_a_providers_entry_picks_its_type_and_takes_its_prefix(
    kaleyra: FakeKaleyra, fake: FakeTwilio
) -> None:
    providers = [{"name": "twilio", "env": "TWILIO_"}, {"name": "kaleyra", "type": "kaleyra"}]
    registry = voice_sms_registry(
        {**kaleyra.environ(), **twilio_env(fake)}, {"voice": {"providers": providers}}
    )
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
        voice_sms_registry(environ, {"voice": {"providers": [{"name": "twilio"}, entry]}})
    assert caught.value.key == "channels.voice.providers[1]"
    assert reason in caught.value.reason


def test_the_worker_refuses_to_start_naming_the_provider(tmp_path: Path) -> None:
    config = {
        **BASE_CONFIG,
        "channels": {
            "email": {
                "providers": [{"name": "primary", "env": "RELAY_A_"}, {"name": "backup", "env": "NOPE_"}]
            }
        },
    }
    done = worker_with_config(tmp_path, config, RELAY_A_HOST="127.0.0.1")
    assert done.returncode != 0
    assert "channels.email.providers[1]" in done.stderr
