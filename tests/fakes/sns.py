"""A local Amazon SNS over real HTTP on 127.0.0.1: it signs messages and serves its signing certificate.

SNS signs every message it posts with the private key of a certificate it publishes at
``SigningCertURL``; subscribers fetch the certificate and check the signature (SignatureVersion 1:
SHA1withRSA, 2: SHA256withRSA) over the message's canonical text. This fake does the same with a fresh
RSA key and self-signed certificate: :meth:`FakeSns.notification` and
:meth:`FakeSns.subscription_confirmation` return signed messages (JSON bodies to post), ``GET
/SimpleNotificationService-<id>.pem`` serves the certificate, and ``GET /?Action=ConfirmSubscription``
records the confirmation (``confirmed``), as the real ``SubscribeURL`` does.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.fakes.http_server import LoopbackFake, Receive, Send, respond

__all__ = ["FakeSns"]

_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def _certificate(key: rsa.RSAPrivateKey, days: int = 1) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.fake.amazonaws.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class FakeSns(LoopbackFake):
    """Signs SNS messages, serves the certificate, records subscription confirmations."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._pem = _certificate(self._key)
        self._path = f"/SimpleNotificationService-{secrets.token_hex(16)}.pem"
        self._lock = threading.Lock()
        self.confirmed: list[str] = []
        self.certificate_fetches = 0
        super().__init__()

    @property
    def cert_url(self) -> str:
        """Where the signing certificate is served."""
        return self.base_url + self._path

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, as ``bounces.ses.certificateHosts`` names it."""
        return self.base_url.removeprefix("http://")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == self._path:
            with self._lock:
                self.certificate_fetches += 1
            await respond(send, 200, self._pem, [("content-type", "application/x-pem-file")])
            return
        query = parse_qs(scope.get("query_string", b"").decode())
        if scope["path"] == "/" and query.get("Action") == ["ConfirmSubscription"]:
            with self._lock:
                self.confirmed.extend(query.get("Token", []))
            body = b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult/></ConfirmSubscriptionResponse>"
            await respond(send, 200, body, [("content-type", "text/xml")])
            return
        await respond(send, 404, b"not found")

    def sign(
        self, message: dict[str, Any], version: str = "1", key: rsa.RSAPrivateKey | None = None
    ) -> dict[str, Any]:
        """The message with ``SignatureVersion``, ``Signature``, ``SigningCertURL`` (another key forges)."""
        keys = _NOTIFICATION if message["Type"] == "Notification" else _CONFIRMATION
        text = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self._key).sign(text.encode("utf-8"), padding.PKCS1v15(), algorithm)
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode("ascii"),
            "SigningCertURL": self.cert_url,
            "UnsubscribeURL": f"{self.base_url}/?Action=Unsubscribe",
        }

    def _stamp(self) -> str:
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def notification(
        self, topic: str, message: str, *, subject: str | None = None, version: str = "1"
    ) -> dict[str, Any]:
        """A signed ``Notification`` carrying ``message`` (an SES notification's JSON)."""
        body: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Message": message,
            "Timestamp": self._stamp(),
        }
        if subject is not None:
            body["Subject"] = subject
        return self.sign(body, version)

    def subscription_confirmation(self, topic: str, version: str = "1") -> dict[str, Any]:
        """A signed ``SubscriptionConfirmation`` whose ``SubscribeURL`` points at this fake."""
        token = secrets.token_hex(32)
        query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic, "Token": token})
        body = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": f"{self.base_url}/?{query}",
            "Timestamp": self._stamp(),
        }
        return self.sign(body, version)
