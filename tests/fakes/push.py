"""A local Web Push service (RFC 8030) over real HTTP on 127.0.0.1 that checks VAPID and decrypts payloads.

``service.subscribe()`` mints a browser-like subscription (its own P-256 key pair and auth secret)
whose endpoint is this server. Each POST is checked like a real push service does: the VAPID JWT
(RFC 8292: ES256 signature by ``k``, ``aud`` = the endpoint's origin, ``exp`` in the next 24 h, a
``sub``), the TTL header, the aes128gcm body (decrypted with the subscription's private key, which
proves the payload end to end). Scripted answers (410, 429 + Retry-After, 500 ...) replace the next
N answers, globally or for one subscription.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Self

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.fakes.http_server import LoopbackFake, Receive, Send, read_body, respond, serve_forever

__all__ = ["PushReceived", "PushService", "ScriptedPush", "b64url", "b64url_decode"]

MAX_BODY = 4096
_MAX_EXP = 24 * 3600


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ScriptedPush:
    """An answer the service gives instead of accepting a push."""

    status: int
    retry_after: str | None = None


@dataclass(frozen=True)
class PushReceived:
    """One push request as the service saw it."""

    subscription_id: str | None
    status: int
    headers: dict[str, str]
    #: the decrypted payload (None when refused before decryption, or empty)
    payload: bytes | None = None
    #: the verified VAPID claims and public key
    claims: dict[str, Any] | None = None
    vapid_key: str | None = None
    reason: str = ""

    def json(self) -> Any:
        """The decrypted payload, decoded as JSON."""
        assert self.payload is not None, f"no payload ({self.status} {self.reason})"
        return json.loads(self.payload)


@dataclass
class _Subscription:
    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None
    gone: bool = False
    script: collections.deque[ScriptedPush] = field(default_factory=collections.deque)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _verify_vapid(header: str | None, audience: str, expected_key: str | None) -> tuple[dict[str, Any], str]:
    """Check ``Authorization: vapid t=<jwt>, k=<key>``; return (claims, key) or raise _Refused."""
    if not header or not header.lower().startswith("vapid "):
        raise _Refused(401, "missing VAPID authorization")
    params = {}
    for part in header[6:].split(","):
        name, _, value = part.strip().partition("=")
        params[name.strip().lower()] = value.strip()
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        raise _Refused(401, "VAPID authorization lacks t or k")
    try:
        head_b64, claims_b64, signature_b64 = token.split(".")
        head = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    except (ValueError, binascii.Error) as exc:
        raise _Refused(401, f"malformed VAPID token: {exc}") from exc
    if head.get("alg") != "ES256" or len(signature) != 64:
        raise _Refused(401, "VAPID token is not ES256")
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise _Refused(401, "VAPID signature does not verify with k") from exc
    now = time.time()
    if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + _MAX_EXP:
        raise _Refused(401, "VAPID exp is missing, past, or more than 24 h ahead")
    if claims.get("aud") != audience:
        raise _Refused(403, f"VAPID aud {claims.get('aud')!r} is not {audience!r}")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise _Refused(403, "VAPID sub must be a mailto: or https: URL")
    if expected_key is not None and key.rstrip("=") != expected_key:
        raise _Refused(403, "VAPID key differs from the subscription's applicationServerKey")
    return claims, key


class PushService(LoopbackFake):
    """A Web Push service served by uvicorn on a free port."""

    def __init__(self, *, port: int = 0, origin: str | None = None) -> None:
        super().__init__(port=port)
        self._origin = origin
        self._lock = threading.Lock()
        self._subscriptions: dict[str, _Subscription] = {}
        self._script: collections.deque[ScriptedPush] = collections.deque()
        self._received: list[PushReceived] = []

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Origin of every endpoint (what VAPID ``aud`` must say)."""
        if self._origin is None:
            raise RuntimeError("the push service is not started")
        return self._origin

    def start(self) -> Self:
        """Serve in a background thread."""
        super().start()
        self._origin = self.base_url
        return self

    # -- test API ------------------------------------------------------------------------------------
    def subscribe(self, *, application_server_key: str | None = None) -> dict[str, Any]:
        """Mint a subscription like ``PushManager.subscribe()`` returns (its JSON form).

        With ``application_server_key`` (base64url public key), pushes signed by any other VAPID key
        are refused with 403, as browsers' push services do.
        """
        private_key = ec.generate_private_key(ec.SECP256R1())
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        subscription = _Subscription(
            id=secrets.token_urlsafe(16),
            private_key=private_key,
            auth_secret=os.urandom(16),
            application_server_key=application_server_key.rstrip("=") if application_server_key else None,
        )
        with self._lock:
            self._subscriptions[subscription.id] = subscription
        return {
            "endpoint": f"{self.url}/push/{subscription.id}",
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(subscription.auth_secret)},
        }

    def unsubscribe(self, subscription: Mapping[str, Any]) -> None:
        """Mark a subscription gone: pushes to it are answered 410 from now on."""
        with self._lock:
            self._subscriptions[self._id_of(subscription)].gone = True

    def script(
        self, responses: Iterable[int | ScriptedPush], *, subscription: Mapping[str, Any] | None = None
    ) -> None:
        """Answer the next pushes (to ``subscription`` only, when given) with these, in order."""
        items = [item if isinstance(item, ScriptedPush) else ScriptedPush(item) for item in responses]
        with self._lock:
            queue = self._subscriptions[self._id_of(subscription)].script if subscription else self._script
            queue.extend(items)

    @property
    def received(self) -> list[PushReceived]:
        """Every push request so far, oldest first."""
        with self._lock:
            return list(self._received)

    def delivered(self, subscription: Mapping[str, Any] | None = None) -> list[PushReceived]:
        """Accepted pushes (to ``subscription`` only, when given)."""
        wanted = self._id_of(subscription) if subscription else None
        return [r for r in self.received if r.status == 201 and wanted in (None, r.subscription_id)]

    @staticmethod
    def _id_of(subscription: Mapping[str, Any]) -> str:
        return str(subscription["endpoint"]).rsplit("/", 1)[-1]

    # -- ASGI ----------------------------------------------------------------------------------------
    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        path: str = scope["path"]
        subscription_id = path.removeprefix("/push/") if path.startswith("/push/") else None
        extra: list[tuple[str, str]] = []
        payload = claims = key = None
        try:
            with self._lock:
                subscription = self._subscriptions.get(subscription_id or "")
                scripted = None
                if subscription is not None and not subscription.gone:
                    queue = subscription.script or self._script
                    scripted = queue.popleft() if queue else None
            if scope["method"] != "POST" or subscription is None:
                raise _Refused(404, "no such subscription")
            if subscription.gone:
                raise _Refused(410, "subscription expired or unsubscribed")
            if scripted is not None:
                if scripted.retry_after is not None:
                    extra.append(("Retry-After", scripted.retry_after))
                raise _Refused(scripted.status, "scripted")
            claims, key = _verify_vapid(
                headers.get("authorization"), self.url, subscription.application_server_key
            )
            if "ttl" not in headers or not headers["ttl"].isdigit():
                raise _Refused(400, "missing or invalid TTL header")
            if len(body) > MAX_BODY:
                raise _Refused(413, "payload too large")
            if body:
                if headers.get("content-encoding") != "aes128gcm":
                    raise _Refused(415, "content-encoding must be aes128gcm")
                try:
                    payload = http_ece.decrypt(
                        body,
                        private_key=subscription.private_key,
                        auth_secret=subscription.auth_secret,
                        version="aes128gcm",
                    )
                except Exception as exc:  # http_ece raises ECEException, cryptography InvalidTag ...
                    raise _Refused(400, f"cannot decrypt: {exc!r}") from exc
            status, reason = 201, "created"
            extra += [("Location", f"{self.url}/message/{uuid.uuid4().hex}"), ("TTL", headers["ttl"])]
        except _Refused as refusal:
            status, reason = refusal.status, refusal.reason
        record = PushReceived(subscription_id, status, headers, payload, claims, key, reason)
        with self._lock:
            self._received.append(record)
        body_out = b"" if status == 201 else json.dumps({"code": status, "message": reason}).encode()
        await respond(send, status, body_out, [("Content-Type", "application/json"), *extra])


def main(argv: list[str] | None = None) -> None:
    """Serve a push service in the foreground and print one subscription to use."""
    parser = argparse.ArgumentParser(description="local Web Push service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8022)
    args = parser.parse_args(argv)
    service = PushService(origin=f"http://{args.host}:{args.port}")
    print(json.dumps(service.subscribe()), flush=True)
    serve_forever(service, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
