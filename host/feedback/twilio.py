"""Twilio's status callbacks: a ``sent`` SMS or call becomes ``delivered`` or ``undelivered``.

Twilio posts a form (``MessageSid``/``CallSid``, ``MessageStatus``/``CallStatus``, ``ErrorCode``) signed in
``X-Twilio-Signature``; the signature, checked with the SDK's ``RequestValidator`` and the account's auth
token against the public URL (``TIDINGS_PUBLIC_URL`` + ``/twilio/status``), is the callback's
authentication. Intermediate statuses (``queued``, ``sent``, ``ringing`` ...) change nothing; a final
one moves the delivery through the lifecycle (host.delivery.lifecycle), and a report the lifecycle
does not allow from the delivery's status (a late or replayed callback) is logged and ignored. Each
move writes a ``delivery.delivered`` or ``delivery.undelivered`` event (host.events.log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

from host.delivery.lifecycle import allowed
from host.errors import NotFound, RequestError
from host.events.log import EventLog
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = ["STATUS_PATH", "TwilioCallbacks"]

log = logging.getLogger(__name__)

STATUS_PATH = "/twilio/status"
_FINAL: dict[str, str] = {
    # MessageStatus
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "undelivered",
    # CallStatus
    "completed": "delivered",
    "busy": "undelivered",
    "no-answer": "undelivered",
    "canceled": "undelivered",
}


class TwilioCallbacks:
    """Checks and records Twilio's status callbacks for the deliveries of one store."""

    def __init__(self, store: Store, events: EventLog, *, auth_token: str | None, public_url: str) -> None:
        self._store = store
        self._events = events
        self._validator = RequestValidator(auth_token) if auth_token else None
        #: the URL Twilio calls back, as it signs it
        self.url = public_url.rstrip("/") + STATUS_PATH

    def verify(self, query: str, params: Mapping[str, str], signature: str) -> None:
        """Raise RequestError (403) unless Twilio signed these parameters for our URL."""
        url = f"{self.url}?{query}" if query else self.url
        if self._validator is None or not signature or not self._validator.validate(url, params, signature):
            raise RequestError("X-Twilio-Signature: missing or invalid", status_code=403)

    async def record(self, params: Mapping[str, str]) -> None:
        """Move the delivery a final status names; 404 when no delivery has the SID."""
        sid = params.get("MessageSid") or params.get("CallSid")
        reported = params.get("MessageStatus") or params.get("CallStatus") or ""
        status = _FINAL.get(reported)
        if not sid or status is None:
            return  # an intermediate status: nothing to record
        doc = await self._store.deliveries.find_one({"provider_id": sid})
        if doc is None:
            raise NotFound(f"MessageSid/CallSid: no delivery with provider id {sid!r}")
        if not allowed(doc["status"], status):
            if doc["status"] != status:
                log.info(
                    "Twilio reported %s for delivery %s, which is %s: ignored",
                    reported,
                    doc["_id"],
                    doc["status"],
                )
            return
        fields: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if status == "undelivered":
            code = params.get("ErrorCode") or None
            detail = f" (error {code})" if code else ""
            fields["last_error"] = {
                "channel": doc["channel"],
                "code": code,
                "message": f"Twilio reported the {doc['channel']} {reported}{detail}",
            }
        await self._store.deliveries.update_one({"_id": doc["_id"]}, {"$set": fields})
        await self._events.emit([self._events.delivery_event(doc | fields)])
