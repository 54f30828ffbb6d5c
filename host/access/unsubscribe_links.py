"""Signed, expiring, opaque unsubscribe links and the RFC 8058 one-click headers that carry them.

A link reads ``<TIDINGS_PUBLIC_URL>/unsubscribe/<token>``. The token is made by itsdangerous's
``URLSafeTimedSerializer`` (``<payload>.<timestamp>.<signature>``, unpadded base64url): an HMAC-SHA256
signature under a key itsdangerous derives from ``TIDINGS_SECRET_KEY`` and this purpose's salt, and a
lifetime of 90 days counted from the signing time. The payload is the JSON ``[user id, channel]``
sealed with AES-256-GCM-SIV under a second key derived the same way for sealing only, so the token
reads as noise: the user id (a fiscal code, say) is not visible to whoever sees the mail (a Cc copy,
a mail archive, a proxy log). A token whose signature does not match, whose payload does not open, or
whose lifetime has passed is refused (:class:`InvalidLink`).

Links of the first format (``<payload>.<signature>``: base64 JSON ``[user id, channel, expiry]`` and
an HMAC-SHA256 under the key derived with the salt ``tidings unsubscribe link v1`` — itsdangerous's
``Signer`` with HMAC key derivation computes exactly that) are still read until their own expiry, so
mail sent before the change keeps working for its 90 days; none are made any more.

Tokens are made without itsdangerous's serializer objects (one a mail cost ~100 µs of the worker: a
serializer and signer built and the key derived again per token, and a zlib attempt on the sealed
payload, which never compresses): the same three parts are put together here with the signing key
derived once. Reading still goes through itsdangerous, so its reader is what checks the tokens made.

``TIDINGS_SECRET_KEY`` is required by ``tidings api`` and ``tidings worker`` when e-mail is active
(:func:`require_secret_key`); the embedded mode generates one and keeps it in its data directory
(:func:`embedded_secret_key`). The key is never logged. Without a key (a library use, a test), e-mails
go out without the headers and every link is invalid.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from itsdangerous import (
    BadData,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
    base64_decode,
    base64_encode,
)
from itsdangerous.encoding import int_to_bytes

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
_SIGNING_SALT = b"tidings unsubscribe link v2"
_SEALING_SALT = b"tidings unsubscribe link v2 sealing"
_LEGACY_SALT = b"tidings unsubscribe link v1"  # the first format: read until its links expire
_NONCE_BYTES = 12
_SECRET_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
#: itsdangerous's key derivation and digest for both formats: HMAC-SHA256(secret key, salt)
_SIGNER_OPTIONS: dict[str, Any] = {"key_derivation": "hmac", "digest_method": hashlib.sha256}


class InvalidLink(RequestError):
    """A tampered, malformed or expired unsubscribe token."""

    def __init__(self) -> None:
        super().__init__("this unsubscribe link is invalid or has expired", status_code=400)


class LinkTarget(msgspec.Struct, frozen=True):
    """Who a valid token opts out, of what, and until when it is valid."""

    user_id: str
    channel: str
    expires: int


class _SealedJSON:
    """itsdangerous's payload serializer: JSON sealed with AES-GCM-SIV, so the payload reads as noise."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCMSIV(key)

    def dumps(self, obj: Any) -> bytes:
        # a fresh nonce per token: two links of one user do not even look alike
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, msgspec.json.encode(obj), _SEALING_SALT)

    def loads(self, data: bytes) -> tuple[str, str]:
        # itsdangerous turns any error raised here into BadPayload
        plain = self._aead.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], _SEALING_SALT)
        return msgspec.json.decode(plain, type=tuple[str, str])


class _ClockedSigner(TimestampSigner):
    """itsdangerous's timestamp signer on a given clock: a token made or read as of some time."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        """The clock's time in whole seconds (itsdangerous's unit)."""
        return int(self._clock())


class UnsubscribeLinks:
    """Makes and checks unsubscribe tokens, and the List-Unsubscribe headers of an e-mail."""

    def __init__(self, secret_key: str, public_url: str, lifetime: int = LINK_LIFETIME_SECONDS) -> None:
        self._secret_key = secret_key
        sealing_key = Signer(secret_key, salt=_SEALING_SALT, **_SIGNER_OPTIONS).derive_key()
        self._sealed = _SealedJSON(sealing_key)
        # what itsdangerous's signer derives (HMAC-SHA256 of the salt) on every token it signs, keyed
        # once: each token's signature copies it (1.6 µs against hmac.digest's 2.7 a token)
        signing_key = Signer(secret_key, salt=_SIGNING_SALT, **_SIGNER_OPTIONS).derive_key()
        self._signing = hmac.new(signing_key, digestmod=hashlib.sha256)
        self._legacy = Signer(secret_key, salt=_LEGACY_SALT, **_SIGNER_OPTIONS)
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

    def _serializer(self, at: float | None) -> URLSafeTimedSerializer:
        clock: Callable[[], float] = time.time if at is None else (lambda: at)
        return URLSafeTimedSerializer(
            self._secret_key,
            salt=_SIGNING_SALT,
            serializer=self._sealed,
            signer=_ClockedSigner,
            signer_kwargs={**_SIGNER_OPTIONS, "clock": clock},
        )

    def token(self, user_id: str, channel: str, expires: int | None = None) -> str:
        """A token for this user and channel, valid until ``expires`` (default: the link lifetime)."""
        signed_at = int(time.time()) if expires is None else expires - self._lifetime
        # itsdangerous's URLSafeTimedSerializer.dumps, part by part: <payload>.<timestamp>.<signature>,
        # each unpadded base64url; the payload uncompressed (sealed bytes do not compress, so it never
        # compresses them either)
        value = base64_encode(self._sealed.dumps([user_id, channel]))
        value += b"." + base64_encode(int_to_bytes(signed_at))
        mac = self._signing.copy()
        mac.update(value)
        signature = base64_encode(mac.digest())
        return (value + b"." + signature).decode("ascii")

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
        if not token.isascii():  # itsdangerous's base64 decoding would skip such characters, not refuse them
            raise InvalidLink()
        now = time.time() if now is None else now
        try:
            if token.count(".") == 1:  # the first format has no timestamp part
                return self._read_legacy(token, now)
            # itsdangerous accepts an age equal to max_age; a link is dead from its expiry second on
            (user_id, channel), signed = self._serializer(now).loads(
                token, max_age=self._lifetime - 1, return_timestamp=True
            )
        except BadData:
            raise InvalidLink() from None
        return LinkTarget(user_id=user_id, channel=channel, expires=int(signed.timestamp()) + self._lifetime)

    def _read_legacy(self, token: str, now: float) -> LinkTarget:
        payload = self._legacy.unsign(token)
        try:
            user_id, channel, expires = msgspec.json.decode(base64_decode(payload), type=tuple[str, str, int])
        except (BadData, msgspec.DecodeError):
            raise InvalidLink() from None
        if expires <= now:
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
