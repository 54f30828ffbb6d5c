"""Amazon SNS message signatures: the signing certificate, fetched from a trusted host, checks each message.

An SNS message (``Notification``, ``SubscriptionConfirmation``, ``UnsubscribeConfirmation``) carries
``SignatureVersion`` (``1``: SHA1withRSA, ``2``: SHA256withRSA), ``Signature`` (base64) and
``SigningCertURL``. The signed text is ``<key>\\n<value>\\n`` for the message's keys in a fixed order
(``Message, MessageId, Subject (if any), Timestamp, TopicArn, Type`` for a notification; ``Message,
MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type`` for the confirmations). The certificate URL
must be ``https://<host>/<...>.pem`` with a host matching ``bounces.ses.certificateHosts`` (``http`` only
for a loopback host, a local fake); the certificate is fetched once per URL and must be current. A
subscription is confirmed by fetching its ``SubscribeURL``, checked the same way.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from host.errors import RequestError
from host.feedback.esp import forbidden
from host.settings import SesConfig
from host.settings.bounces import host_matches

__all__ = ["SnsVerifier", "string_to_sign"]

log = logging.getLogger(__name__)

_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_OPTIONAL = frozenset({"Subject"})
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_CERTIFICATES_KEPT = 32


def string_to_sign(message: Mapping[str, Any]) -> str:
    """The text SNS signs for this message; a 400 names a missing key."""
    keys = _NOTIFICATION if message.get("Type") == "Notification" else _CONFIRMATION
    lines: list[str] = []
    for key in keys:
        value = message.get(key)
        if value is None and key in _OPTIONAL:
            continue
        if not isinstance(value, str):
            raise RequestError(f"{key}: required in an SNS {message.get('Type')} (a string)")
        lines.append(f"{key}\n{value}\n")
    return "".join(lines)


class SnsVerifier:
    """Checks SNS signatures against certificates of the configured hosts; confirms subscriptions."""

    def __init__(self, config: SesConfig, *, timeout: float = 10.0) -> None:
        self._hosts = list(config.certificate_hosts)
        self._timeout = timeout
        self._keys: dict[str, rsa.RSAPublicKey] = {}

    def trusted_url(self, url: object, field: str, *, pem: bool = False) -> str:
        """The URL if it is on a trusted host (https, or http on loopback); else a 403 naming the field."""
        if not isinstance(url, str):
            raise RequestError(f"{field}: required (a URL)")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)
        if not scheme_ok or not any(host_matches(pattern, netloc) for pattern in self._hosts):
            raise forbidden(f"{field}: {url!r} is not on a trusted host (bounces.ses.certificateHosts)")
        if pem and not parts.path.endswith(".pem"):
            raise forbidden(f"{field}: {url!r} is not a certificate (.pem)")
        return url

    async def _fetch(self, url: str, field: str) -> bytes:
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise RequestError(
                f"{field}: cannot fetch {url}: {type(exc).__name__}", status_code=503
            ) from None
        if response.status_code != 200:
            raise RequestError(f"{field}: {url} answered {response.status_code}", status_code=503)
        return response.content

    async def _public_key(self, url: str) -> rsa.RSAPublicKey:
        key = self._keys.get(url)
        if key is not None:
            return key
        pem = await self._fetch(url, "SigningCertURL")
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise forbidden(f"SigningCertURL: {url} is not a PEM certificate") from None
        now = datetime.now(UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise forbidden(f"SigningCertURL: the certificate at {url} is not valid now")
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise forbidden(f"SigningCertURL: the certificate at {url} has no RSA key")
        if len(self._keys) >= _CERTIFICATES_KEPT:
            self._keys.pop(next(iter(self._keys)))
        self._keys[url] = public
        return public

    async def verify(self, message: Mapping[str, Any]) -> None:
        """Raise a 403 unless SNS signed this message (a 400 for a missing key, 503 for no certificate)."""
        algorithm = _HASHES.get(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise forbidden("SignatureVersion: must be 1 or 2")
        url = self.trusted_url(message.get("SigningCertURL"), "SigningCertURL", pem=True)
        signed = string_to_sign(message)
        try:
            signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise forbidden("Signature: not base64") from None
        key = await self._public_key(url)
        try:
            key.verify(signature, signed.encode("utf-8"), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise forbidden("Signature: does not match the message (not signed by SNS)") from None

    async def confirm(self, message: Mapping[str, Any]) -> None:
        """Confirm a (verified) subscription by fetching its ``SubscribeURL``."""
        url = self.trusted_url(message.get("SubscribeURL"), "SubscribeURL")
        await self._fetch(url, "SubscribeURL")
        log.info("confirmed the SNS subscription of %s", message.get("TopicArn"))
