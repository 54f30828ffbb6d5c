"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads, via pywebpush: the push channel's
provider for browser subscriptions.

A Web Push address is a subscription: ``{"endpoint": URL, "keys": {"p256dh", "auth"}}`` (or its JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async

from host.errors import ChannelError, InvalidAddress, PermanentChannelError, TransientChannelError
from host.plugins.channel import Message, Receipt
from host.plugins.conventions import retry_after_seconds

__all__ = ["MAX_PAYLOAD", "WebPush", "build_payload", "load_vapid_key", "parse_subscription"]

# a push message body is one aes128gcm record of at most 4,096 bytes: 86 header + 16 tag + 1 padding
MAX_PAYLOAD = 4096 - 86 - 16 - 1


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


def load_vapid_key(private_key: str) -> Any:
    """The VAPID signing key from raw base64url, DER base64url or PEM text (py_vapid raises otherwise)."""
    if "-----BEGIN" in private_key:
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key)


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
        return TransientChannelError(detail, code="429", retry_after=retry_after_seconds(exc.retry_after))
    if status >= 500 or status == 408:
        return TransientChannelError(detail, code=str(status))
    return PermanentChannelError(detail, code=str(status))


def build_payload(message: Message, intent: str | None) -> bytes:
    """The JSON a browser's service worker receives (before encryption); PermanentChannelError if too big."""
    payload = json.dumps(
        {
            "title": message.subject,
            "subtitle": message.subtitle,
            "body": message.text,
            "data": message.data,
            "androidIntentAction": intent,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    if len(payload) > MAX_PAYLOAD:
        raise PermanentChannelError(
            f"push payload is {len(payload)} bytes, Web Push carries at most {MAX_PAYLOAD}",
            code="payload-too-large",
        )
    return payload


class WebPush:
    """Sends encrypted pushes to subscriptions, signed with one VAPID identity."""

    def __init__(self, private_key: str, subject: str, *, ttl: int, timeout: float) -> None:
        self.vapid_key = load_vapid_key(private_key)
        self.subject = subject
        self.ttl = ttl
        self.timeout = timeout

    async def send(
        self, session: aiohttp.ClientSession, message: Message, address: str, intent: str | None
    ) -> Receipt:
        """Encrypt and POST one push message; the push service's Location is the receipt."""
        subscription = json.loads(address)
        payload = build_payload(message, intent)
        try:
            response: Any = await webpush_async(
                subscription_info=subscription,
                data=payload,
                vapid_private_key=self.vapid_key,
                # pywebpush writes aud and exp into this dict: a fresh one per call
                vapid_claims={"sub": self.subject},
                ttl=self.ttl,
                content_encoding="aes128gcm",
                timeout=self.timeout,
                aiohttp_session=session,
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
