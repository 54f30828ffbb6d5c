"""SendGrid's Event Webhook (``POST /feedback/sendgrid``): ECDSA-signed batches of events.

SendGrid signs ``<X-Twilio-Email-Event-Webhook-Timestamp><raw body>`` with ECDSA P-256/SHA-256 and sends
the DER signature, base64, in ``X-Twilio-Email-Event-Webhook-Signature``; the verification key
(``SENDGRID_WEBHOOK_PUBLIC_KEY``, the base64 DER key of the console's "Signed Event Webhook") checks it. A
missing or wrong signature, or a timestamp outside ``bounces.replayWindowSeconds``, is a 403.

The body is a JSON array of events. ``bounce`` is a hard bounce, or a soft one when its ``type`` is
``blocked`` (as is the older ``blocked`` event); ``spamreport`` is a complaint; the rest (``delivered``,
``deferred`` while SendGrid still retries, ``dropped``, opens ...) are ignored. Each event is one report
with the id ``sendgrid:<sg_event_id>``, so a batch posted again records nothing twice; the delivery is
found through the original ``Message-ID`` (``smtp-id``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from host.errors import ConfigurationError, RequestError
from host.feedback.esp import Summary, decode_json, forbidden, record_all, text_of
from host.feedback.recorder import FeedbackRecorder
from host.feedback.reports import Report

__all__ = ["KEY_VARIABLE", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "SendGridEvents", "load_public_key"]

KEY_VARIABLE = "SENDGRID_WEBHOOK_PUBLIC_KEY"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from its base64 DER (PEM armour accepted); ConfigurationError otherwise."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        key = load_der_public_key(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(KEY_VARIABLE, f"not a base64 DER public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigurationError(KEY_VARIABLE, "must be an ECDSA P-256 key (SendGrid's verification key)")
    return key


class SendGridEvents:
    """Verifies SendGrid's signed posts and records their bounces and spam reports."""

    def __init__(
        self,
        public_key: str,
        recorder: FeedbackRecorder,
        *,
        replay_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_public_key(public_key)
        self._recorder = recorder
        self._window = replay_window
        self._clock = clock

    def verify(self, signature: str | None, timestamp: str | None, body: bytes) -> None:
        """Raise a 403 unless SendGrid signed this body at this (recent) time."""
        if not signature or not timestamp:
            raise forbidden(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER}: required")
        try:
            der = base64.b64decode(signature, validate=True)
            self._key.verify(der, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, ValueError, InvalidSignature):
            raise forbidden(f"{SIGNATURE_HEADER}: does not match the body (not signed by SendGrid)") from None
        try:
            age = abs(self._clock() - float(timestamp))
        except ValueError:
            raise forbidden(f"{TIMESTAMP_HEADER}: not a Unix time") from None
        if age > self._window:
            raise forbidden(f"{TIMESTAMP_HEADER}: outside the replay window ({self._window:.0f} s)")

    async def handle(self, headers: Mapping[str, str], body: bytes) -> Summary:
        """Check and record one post."""
        self.verify(headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), body)
        events = decode_json(body)
        if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
            raise RequestError("body: must be a JSON array of SendGrid events")
        reports = [report for event in events if (report := self._report(event)) is not None]
        return await record_all(self._recorder, reports, ignored=len(events) - len(reports))

    def _report(self, event: Mapping[str, Any]) -> Report | None:
        kind = event.get("event")
        if kind not in ("bounce", "blocked", "spamreport"):
            return None
        event_id = text_of(event, "sg_event_id")
        if event_id is None:  # always sent by SendGrid; a stable id all the same
            event_id = hashlib.sha256(repr(sorted(event.items())).encode()).hexdigest()[:32]
        recipient = text_of(event, "email")
        common: dict[str, Any] = {
            "id": f"sendgrid:{event_id}",
            "source": "sendgrid",
            "recipients": (recipient,) if recipient else (),
            "message_id": text_of(event, "smtp-id"),
        }
        if kind == "spamreport":
            return Report(kind="complaint", feedback_type="abuse", **common)
        soft = kind == "blocked" or event.get("type") == "blocked"
        return Report(
            kind="bounce",
            severity="soft" if soft else "hard",
            status=text_of(event, "status"),
            diagnostic=text_of(event, "reason"),
            **common,
        )
