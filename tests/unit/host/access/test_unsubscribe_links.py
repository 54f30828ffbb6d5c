"""Signed unsubscribe links: tokens that round-trip and expire, and the secret key they need."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.access.unsubscribe_links import (
    InvalidLink,
    UnsubscribeLinks,
    embedded_secret_key,
    require_secret_key,
)
from host.errors import ConfigurationError
from host.settings import Environment, ServiceConfig, Settings


def test_tokens_round_trip_and_expire() -> None:
    links = UnsubscribeLinks("k" * 32, "https://tidings.example/")
    url = links.url("user:with/odd chars", "email")
    assert url.startswith("https://tidings.example/unsubscribe/")
    target = links.read(url.rsplit("/", 1)[1])
    assert (target.user_id, target.channel) == ("user:with/odd chars", "email")
    with pytest.raises(InvalidLink):
        links.read(links.token("u", "email", expires=1000), now=1000)


def _settings(channels: list[str], **env: str) -> Settings:
    return Settings(env=Environment(**env), config=ServiceConfig(active_channels=channels), environ={})  # type: ignore[arg-type]


def test_the_secret_key_is_required_when_email_is_active(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TIDINGS_SECRET_KEY"):
        require_secret_key(_settings(["email", "sms"]))
    with pytest.raises(ConfigurationError, match="TIDINGS_SECRET_KEY"):
        require_secret_key(_settings(["email"], secret_key="short"))
    require_secret_key(_settings(["sms"]))
    require_secret_key(_settings(["email"], secret_key="x" * 32))

    made = embedded_secret_key(tmp_path, None)
    assert len(made) >= 32 and embedded_secret_key(tmp_path, None) == made  # kept in the data directory
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert embedded_secret_key(tmp_path, "given" * 4) == "given" * 4
