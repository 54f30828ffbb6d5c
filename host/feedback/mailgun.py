"""Mailgun's webhooks (``POST /feedback/mailgun``): one HMAC-signed event per post.

The body is ``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}``; ``signature`` is
the hex HMAC-SHA256 of ``<timestamp><token>`` under the webhook signing key
(``MAILGUN_WEBHOOK_SIGNING_KEY``). The signature does not cover the event, so, as Mailgun advises, a
timestamp outside ``bounces.replayWindowSeconds`` is refused and a token is taken once: it is stored with
its event (``feedback_tokens``), and the same token with another event is a 403. A missing or wrong
signature is a 403 too.

``failed`` with severity ``permanent`` is a bounce: hard for a 5xx (or no code), soft for a 4xx (Mailgun
gave up after temporary failures); ``failed`` with severity ``temporary`` is ignored (Mailgun still
retries), as is everything but ``complained``, a complaint. The report id is ``mailgun:<event id>``; the
delivery is found through ``envelope.sender`` (the VERP address), else through the original
``Message-ID`` (``message.headers.message-id``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from host.access.bounce_addresses import BounceAddresses
from host.errors import RequestError
from host.feedback.esp import Summary, decode_json, forbidden, record_all, text_of, verp_delivery
from host.feedback.recorder import FeedbackRecorder
from host.feedback.reports import Report
from host.storage.documents import utcnow

__all__ = ["KEY_VARIABLE", "MailgunEvents", "mailgun_signature"]

KEY_VARIABLE = "MAILGUN_WEBHOOK_SIGNING_KEY"
Doc = dict[str, Any]


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature: hex HMAC-SHA256 of ``<timestamp><token>`` under the signing key."""
    return hmac.new(key.encode("utf-8"), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RequestError(f"{field}: required (an object)")
    return value


class MailgunEvents:
    """Verifies Mailgun's signed posts and records their bounces and complaints."""

    def __init__(
        self,
        signing_key: str,
        recorder: FeedbackRecorder,
        tokens: AsyncCollection[Doc],
        addresses: BounceAddresses | None,
        *,
        replay_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = signing_key
        self._recorder = recorder
        self._tokens = tokens
        self._addresses = addresses
        self._window = replay_window
        self._clock = clock

    def verify(self, signature: Mapping[str, Any]) -> tuple[str, str]:
        """Raise a 403 unless the signing key made this signature recently; returns (timestamp, token)."""
        timestamp, token, given = (
            str(signature.get(key) or "") for key in ("timestamp", "token", "signature")
        )
        if not timestamp or not token or not given:
            raise forbidden("signature: timestamp, token and signature are required")
        if not hmac.compare_digest(mailgun_signature(self._key, timestamp, token), given.lower()):
            raise forbidden("signature.signature: does not match (not signed with the webhook signing key)")
        try:
            age = abs(self._clock() - float(timestamp))
        except ValueError:
            raise forbidden("signature.timestamp: not a Unix time") from None
        if age > self._window:
            raise forbidden(f"signature.timestamp: outside the replay window ({self._window:.0f} s)")
        return timestamp, token

    async def _take_token(self, token: str, event_id: str) -> None:
        """A token signs one event: the same event again is fine (idempotent), another one is a replay."""
        try:
            await self._tokens.insert_one({"_id": f"mailgun:{token}", "event_id": event_id, "at": utcnow()})
        except DuplicateKeyError:
            taken = await self._tokens.find_one({"_id": f"mailgun:{token}"})
            if taken is None or taken.get("event_id") != event_id:
                raise forbidden("signature.token: already used for another event (a replay)") from None

    async def handle(self, body: bytes) -> Summary:
        """Check and record one post."""
        payload = decode_json(body)
        if not isinstance(payload, dict):
            raise RequestError("body: must be a Mailgun webhook payload (a JSON object)")
        _, token = self.verify(_mapping(payload.get("signature"), "signature"))
        event = _mapping(payload.get("event-data"), "event-data")
        event_id = text_of(event, "id")
        if event_id is None:
            raise RequestError("event-data.id: required (a string)")
        await self._take_token(token, event_id)
        report = self._report(event, event_id)
        if report is None:
            return Summary(ignored=1)
        return await record_all(self._recorder, [report])

    def _report(self, event: Mapping[str, Any], event_id: str) -> Report | None:
        kind = event.get("event")
        if kind == "failed" and event.get("severity") != "permanent":
            return None  # a temporary failure: Mailgun is still trying
        if kind not in ("failed", "complained"):
            return None
        envelope = event.get("envelope")
        sender = envelope.get("sender") if isinstance(envelope, Mapping) else None
        delivery_id = verp_delivery(self._addresses, sender)
        message = event.get("message")
        headers = message.get("headers") if isinstance(message, Mapping) else None
        recipient = text_of(event, "recipient")
        common: dict[str, Any] = {
            "id": f"mailgun:{event_id}",
            "source": "mailgun",
            "recipients": (recipient,) if recipient else (),
            "delivery_id": delivery_id,
            "message_id": text_of(headers, "message-id")
            if isinstance(headers, Mapping) and not delivery_id
            else None,
        }
        if kind == "complained":
            return Report(kind="complaint", feedback_type="abuse", **common)
        status = event.get("delivery-status")
        status = status if isinstance(status, Mapping) else {}
        code = status.get("code")
        soft = isinstance(code, int) and 400 <= code < 500
        return Report(
            kind="bounce",
            severity="soft" if soft else "hard",
            status=text_of(status, "enhanced-code") or (str(code) if isinstance(code, int) else None),
            diagnostic=text_of(status, "message")
            or text_of(status, "description")
            or text_of(event, "reason"),
            **common,
        )
