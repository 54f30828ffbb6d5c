"""Signed unsubscribe links: tokens that round-trip and expire, and the secret key they need."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

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
    at = 2_000_000_000  # itsdangerous timestamps count from 1970: the link was signed 90 days before
    with pytest.raises(InvalidLink):
        links.read(links.token("u", "email", expires=at), now=at)
    assert links.read(links.token("u", "email", expires=at), now=at - 1).expires == at


def test_tokens_are_what_itsdangerous_makes_and_reads() -> None:
    """The token is put together without itsdangerous's serializer: its signer signs it alike, to the
    byte, and its serializer reads it back."""
    secret, at = "k" * 32, 2_000_000_000
    lifetime = 90 * 24 * 3600
    token = UnsubscribeLinks(secret, "https://tidings.example/").token("u1", "email", expires=at)
    payload, _, _ = token.partition(".")

    class FixedClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return at - lifetime

    signer = FixedClock(
        secret, salt=b"tidings unsubscribe link v2", key_derivation="hmac", digest_method=hashlib.sha256
    )
    assert signer.sign(payload).decode("ascii") == token
    reader = URLSafeTimedSerializer(
        secret,
        salt=b"tidings unsubscribe link v2",
        serializer=UnsubscribeLinks(secret, "https://x/")._sealed,  # the payload opens with the key alone
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
    assert reader.loads(token) == ("u1", "email")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _legacy_token(secret_key: str, user_id: str, channel: str, expires: int) -> str:
    """A token of the first format, made exactly as ``UnsubscribeLinks.token`` made them until v2."""
    key = hmac.new(secret_key.encode("utf-8"), b"tidings unsubscribe link v1", hashlib.sha256).digest()
    payload = _b64(json.dumps([user_id, channel, expires], separators=(",", ":")).encode())
    return f"{payload}.{_b64(hmac.new(key, payload.encode('ascii'), hashlib.sha256).digest())}"


def _decodings(token: str) -> list[bytes]:
    """Every dot-separated part of a token, base64url-decoded where it decodes (and as it is)."""
    parts = [token.encode()]
    for part in token.split("."):
        parts.append(part.encode())
        for start in range(4):  # any alignment a reader might try
            chunk = part[start:]
            with contextlib.suppress(ValueError):
                parts.append(base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4)))
    return parts


def test_tokens_do_not_show_the_user_id() -> None:
    links = UnsubscribeLinks("k" * 32, "https://tidings.example/")
    fiscal_code = "RSSMRA85T10H501Z"
    token = links.token(fiscal_code, "email")
    assert links.read(token).user_id == fiscal_code
    for decoded in _decodings(token):
        assert fiscal_code.encode() not in decoded and b"email" not in decoded, decoded
    assert links.token(fiscal_code, "email") != token  # two links of one user do not look alike
    # the first format did show it, which is why it is only read now
    legacy = _legacy_token("k" * 32, fiscal_code, "email", 1)
    assert any(fiscal_code.encode() in decoded for decoded in _decodings(legacy))


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
