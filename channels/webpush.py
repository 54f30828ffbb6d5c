"""The push channel: Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads, via pywebpush.

A user's device token is a Web Push subscription: ``{"endpoint": URL, "keys": {"p256dh", "auth"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async

from host.errors import (
    ChannelError,
    ConfigurationError,
    InvalidAddress,
    PermanentChannelError,
    TransientChannelError,
)
from host.plugins.channel import ChannelContext, Limits, Message, Receipt, Sender

__all__ = ["PushChannel", "VapidConfig", "parse_subscription"]

# a push message body is one aes128gcm record of at most 4,096 bytes: 86 header + 16 tag + 1 padding
MAX_PAYLOAD = 4096 - 86 - 16 - 1
_MAX_RETRY_AFTER = 24 * 3600.0


class VapidConfig(msgspec.Struct, frozen=True, kw_only=True):
    """VAPID identity and push options, from ``VAPID_PRIVATE_KEY``, ``VAPID_SUBJECT``, ``VAPID_TTL`` ..."""

    #: the application server's P-256 private key: raw 32 bytes base64url, DER base64url, or PEM
    private_key: str | None = None
    #: contact for the push service operator: ``mailto:`` or ``https:`` URL
    subject: str | None = None
    #: seconds the push service keeps a message for an offline device
    ttl: Annotated[int, msgspec.Meta(ge=0, le=28 * 24 * 3600)] = 86400
    #: seconds for one whole request to the push service
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0

    def __repr__(self) -> str:
        # the private key must never reach a log line
        key = "***" if self.private_key else None
        return (
            f"VapidConfig(private_key={key}, subject={self.subject!r}, ttl={self.ttl}, "
            f"timeout={self.timeout})"
        )

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # msgspec's own __rich_repr__ would print the key (rich, structlog's dev console)
        return [
            (name, "***" if name == "private_key" and value is not None else value)
            for name, value in msgspec.structs.asdict(self).items()
        ]


def _b64url_bytes(value: object, what: str) -> tuple[str, bytes]:
    """Return (unpadded base64url text, decoded bytes) of a key, accepting standard base64 too."""
    if not isinstance(value, str) or not value:
        raise InvalidAddress(f"subscription keys.{what} must be a non-empty string", code="invalid-address")
    text = value.strip().rstrip("=").replace("+", "-").replace("/", "_")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidAddress(f"subscription keys.{what} is not base64url", code="invalid-address") from exc
    return text, raw


def parse_subscription(raw: object) -> str:
    """Return a Web Push subscription (dict or JSON text) as canonical JSON, or raise InvalidAddress."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidAddress("push subscription is not valid JSON", code="invalid-address") from exc
    if not isinstance(raw, Mapping):
        raise InvalidAddress("push subscription must be an object", code="invalid-address")
    endpoint = raw.get("endpoint")
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidAddress("push subscription endpoint must be an http(s) URL", code="invalid-address")
    keys = raw.get("keys")
    if not isinstance(keys, Mapping):
        raise InvalidAddress("push subscription has no keys object", code="invalid-address")
    p256dh, point = _b64url_bytes(keys.get("p256dh"), "p256dh")
    auth, secret = _b64url_bytes(keys.get("auth"), "auth")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise InvalidAddress(
            "subscription keys.p256dh is not a P-256 public key", code="invalid-address"
        ) from exc
    if len(secret) != 16:
        raise InvalidAddress("subscription keys.auth must be 16 bytes", code="invalid-address")
    canonical = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
    return json.dumps(canonical, separators=(",", ":"), ensure_ascii=False)


def _load_vapid_key(private_key: str) -> Any:
    if "-----BEGIN" in private_key:
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(_MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP date: rare from push services, the host's backoff applies


def _translate(exc: WebPushException) -> ChannelError:
    """Map a push service's refusal to a transient or permanent channel error."""
    status = exc.status_code
    detail = str(exc.message).split("\n", 1)[0]
    if status is None:
        return PermanentChannelError(f"push not sent: {detail}", code="invalid-subscription")
    if status in (404, 410):
        return PermanentChannelError(
            f"push subscription is gone ({status})", code=str(status), address_gone=True
        )
    if status == 429:
        return TransientChannelError(detail, code="429", retry_after=_retry_after(exc.retry_after))
    if status >= 500 or status == 408:
        return TransientChannelError(detail, code=str(status))
    return PermanentChannelError(detail, code=str(status))


class _PushSender:
    """Sends pushes over one aiohttp session."""

    def __init__(self, channel: PushChannel, session: aiohttp.ClientSession) -> None:
        self._channel = channel
        self._session = session

    async def send(self, message: Message, address: str) -> Receipt:
        """Encrypt and POST one push message; the push service's Location is the receipt."""
        channel = self._channel
        subscription = json.loads(address)
        payload = json.dumps(
            {
                "title": message.subject,
                "subtitle": message.subtitle,
                "body": message.text,
                "data": message.data,
                "androidIntentAction": channel.context.android_intent_action,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        if len(payload) > MAX_PAYLOAD:
            raise PermanentChannelError(
                f"push payload is {len(payload)} bytes, Web Push carries at most {MAX_PAYLOAD}",
                code="payload-too-large",
            )
        try:
            response: Any = await webpush_async(
                subscription_info=subscription,
                data=payload,
                vapid_private_key=channel.vapid_key,
                # pywebpush writes aud and exp into this dict: a fresh one per call
                vapid_claims={"sub": channel.subject},
                ttl=channel.config.ttl,
                content_encoding="aes128gcm",
                timeout=channel.config.timeout,
                aiohttp_session=self._session,
            )
        except WebPushException as exc:
            raise _translate(exc) from exc
        except TimeoutError as exc:
            raise TransientChannelError("the push service did not answer in time", code="timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientChannelError(f"cannot reach the push service: {exc}", code="connection") from exc
        location = response.headers.get("Location")
        return Receipt(
            provider_id=location or f"tidings-{uuid.uuid4().hex}",
            provider=urlsplit(subscription["endpoint"]).hostname,
        )


class PushChannel:
    """Web Push with VAPID; the device token is the subscription JSON."""

    name: ClassVar[str] = "push"
    address_field: ClassVar[str] = "deviceToken"
    config_type: ClassVar[type[msgspec.Struct]] = VapidConfig
    env_prefix: ClassVar[str] = "VAPID_"
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"subject": "pushTitle", "subtitle": "pushSubtitle", "text": "pushMessage"}
    )
    required: ClassVar[tuple[str, ...]] = ("subject", "text")
    html_fields: ClassVar[tuple[str, ...]] = ()
    needs_sender: ClassVar[bool] = False
    # Push services throttle per subscription and answer 429 with Retry-After; the payload limit is
    # checked on the whole encoded JSON at send time (MAX_PAYLOAD), not on the text alone.
    limits: ClassVar[Limits] = Limits(rate_per_second=None, batch_size=50, max_body_length=None)

    def __init__(self, config: VapidConfig, context: ChannelContext) -> None:
        if not config.private_key:
            raise ConfigurationError("VAPID_PRIVATE_KEY", "required because 'push' is an active channel")
        if not config.subject:
            raise ConfigurationError("VAPID_SUBJECT", "required because 'push' is an active channel")
        if not config.subject.startswith(("mailto:", "https://")):
            raise ConfigurationError("VAPID_SUBJECT", "must be a mailto: or https: URL")
        try:
            self.vapid_key = _load_vapid_key(config.private_key)
        except Exception as exc:  # py_vapid raises whatever its decoders raise
            raise ConfigurationError("VAPID_PRIVATE_KEY", "is not a P-256 private key") from exc
        self.subject = config.subject
        self.config = config
        self.context = context

    def parse_address(self, raw: object) -> str:
        """Return the subscription as canonical JSON, or raise InvalidAddress."""
        return parse_subscription(raw)

    async def startup(self) -> None:
        """Nothing to prepare: each batch opens its own session inside the running loop."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """Open one aiohttp session (one connection pool) for a batch."""
        async with aiohttp.ClientSession() as session:
            yield _PushSender(self, session)

    async def shutdown(self) -> None:
        """Nothing to release."""


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _check: type[Channel] = PushChannel
