"""Signed, expiring unsubscribe links and the RFC 8058 one-click headers that carry them.

A link reads ``<TIDINGS_PUBLIC_URL>/unsubscribe/<token>``; the token is ``<payload>.<signature>``, both
unpadded base64url: the payload is the JSON ``[user id, channel, expiry (Unix seconds)]``, the signature
an HMAC-SHA256 of the payload under a key derived from ``TIDINGS_SECRET_KEY`` for this one purpose. A
token whose signature does not match, or whose expiry has passed, is refused (:class:`InvalidLink`).

``TIDINGS_SECRET_KEY`` is required by ``tidings api`` and ``tidings worker`` when e-mail is active
(:func:`require_secret_key`); the embedded mode generates one and keeps it in its data directory
(:func:`embedded_secret_key`). The key is never logged. Without a key (a library use, a test), e-mails
go out without the headers and every link is invalid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
from pathlib import Path

import msgspec

from host.errors import ConfigurationError, RequestError
from host.settings import Settings

__all__ = [
    "LINK_LIFETIME_SECONDS",
    "InvalidLink",
    "LinkTarget",
    "UnsubscribeLinks",
    "embedded_secret_key",
    "require_secret_key",
]

log = logging.getLogger(__name__)

#: how long an unsubscribe link works: mail is often read (and cleaned up) weeks after it was sent
LINK_LIFETIME_SECONDS = 90 * 24 * 3600
_PURPOSE = b"tidings unsubscribe link v1"
_SECRET_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)


class InvalidLink(RequestError):
    """A tampered, malformed or expired unsubscribe token."""

    def __init__(self) -> None:
        super().__init__("this unsubscribe link is invalid or has expired", status_code=400)


class LinkTarget(msgspec.Struct, frozen=True):
    """Who a valid token opts out, of what, and until when it is valid."""

    user_id: str
    channel: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeLinks:
    """Makes and checks unsubscribe tokens, and the List-Unsubscribe headers of an e-mail."""

    def __init__(self, secret_key: str, public_url: str, lifetime: int = LINK_LIFETIME_SECONDS) -> None:
        self._key = hmac.new(secret_key.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()
        self._base = public_url.rstrip("/") + "/unsubscribe/"
        self._lifetime = lifetime

    @classmethod
    def from_settings(cls, settings: Settings) -> UnsubscribeLinks | None:
        """Links for these settings; None (and a warning) if no secret key is configured."""
        env = settings.env
        if not env.secret_key:
            if "email" in settings.config.active_channels:
                log.warning("TIDINGS_SECRET_KEY is not set: e-mails go out without List-Unsubscribe")
            return None
        return cls(env.secret_key, env.public_url)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def token(self, user_id: str, channel: str, expires: int | None = None) -> str:
        """A token for this user and channel, valid until ``expires`` (default: the link lifetime)."""
        if expires is None:
            expires = int(time.time()) + self._lifetime
        payload = _b64(msgspec.json.encode([user_id, channel, expires]))
        return f"{payload}.{self._sign(payload)}"

    def url(self, user_id: str, channel: str) -> str:
        """The public unsubscribe link for this user and channel."""
        return self._base + self.token(user_id, channel)

    def headers(self, user_id: str, channel: str) -> dict[str, str]:
        """``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058 one-click)."""
        return {
            "List-Unsubscribe": f"<{self.url(user_id, channel)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def read(self, token: str, now: float | None = None) -> LinkTarget:
        """The target of a valid token; raises InvalidLink if it was altered or has expired."""
        payload, dot, signature = token.partition(".")
        if not dot or not payload.isascii() or not signature.isascii():
            raise InvalidLink()
        if not hmac.compare_digest(self._sign(payload), signature):
            raise InvalidLink()
        try:
            user_id, channel, expires = msgspec.json.decode(_unb64(payload), type=tuple[str, str, int])
        except (binascii.Error, ValueError, msgspec.DecodeError):
            raise InvalidLink() from None
        if expires <= (time.time() if now is None else now):
            raise InvalidLink()
        return LinkTarget(user_id=user_id, channel=channel, expires=expires)


def require_secret_key(settings: Settings) -> None:
    """Stop start-up when e-mail is active and ``TIDINGS_SECRET_KEY`` is missing or too short."""
    if "email" not in settings.config.active_channels:
        return
    key = settings.env.secret_key or ""
    if not key:
        raise ConfigurationError(
            "TIDINGS_SECRET_KEY",
            "environment variable is not set: it signs the unsubscribe links of e-mails "
            '(make one with `python -c "import secrets; print(secrets.token_urlsafe(32))"`)',
        )
    if len(key) < 16:
        raise ConfigurationError("TIDINGS_SECRET_KEY", "must be at least 16 characters long")


def embedded_secret_key(data_dir: Path, given: str | None) -> str:
    """The embedded mode's key: ``given`` (``TIDINGS_SECRET_KEY``) if set, else one kept in ``data_dir``."""
    if given:
        return given
    path = data_dir / _SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key
