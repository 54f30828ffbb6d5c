"""Twilio's status callback: moves a ``sent`` SMS or call delivery to ``delivered`` / ``undelivered``.

Twilio posts a form (``MessageSid``/``CallSid``, ``MessageStatus``/``CallStatus``, ``ErrorCode``) signed in
``X-Twilio-Signature``; the signature, checked with the SDK's ``RequestValidator`` and the account's auth
token against the public URL (``TIDINGS_PUBLIC_URL`` + ``/twilio/status``), is the route's authentication,
so it needs no API key. A bad or missing signature is answered 403. Intermediate statuses (``queued``,
``sent``, ``ringing`` ...) are acknowledged and change nothing. Each move writes a ``delivery.delivered`` or
``delivery.undelivered`` event (host.events.log).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from twilio.request_validator import RequestValidator

from host.errors import NotFound
from host.runtime.wiring import Runtime
from host.storage.documents import utcnow

__all__ = ["DEFAULT_PUBLIC_URL", "STATUS_PATH", "status_callback_url", "twilio_status"]

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
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
#: a callback moves only a delivery the provider accepted (late ones may correct an earlier one)
_AFTER_SENT = ("sent", "delivered", "undelivered")


def status_callback_url(environ: Any) -> str:
    """The URL Twilio calls back, as Twilio signs it."""
    base = str(environ.get("TIDINGS_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
    return base + STATUS_PATH


@post(
    STATUS_PATH,
    opt={"public": True},
    status_code=204,
    summary="Twilio status callback (signed with X-Twilio-Signature)",
)
async def twilio_status(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> None:
    """Record the final status Twilio reports for a message or call."""
    environ = runtime.settings.environ
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    token = environ.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    url = status_callback_url(environ)
    if request.url.query:
        url += "?" + request.url.query
    if not token or not signature or not RequestValidator(token).validate(url, params, signature):
        raise PermissionDeniedException(detail="X-Twilio-Signature: missing or invalid")
    sid = params.get("MessageSid") or params.get("CallSid")
    reported = params.get("MessageStatus") or params.get("CallStatus") or ""
    status = _FINAL.get(reported)
    if not sid or status is None:
        return  # an intermediate status: nothing to record
    doc = await runtime.store.deliveries.find_one({"provider_id": sid})
    if doc is None:
        raise NotFound(f"MessageSid/CallSid: no delivery with provider id {sid!r}")
    if doc["status"] not in _AFTER_SENT:
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
    await runtime.store.deliveries.update_one({"_id": doc["_id"]}, {"$set": fields})
    await runtime.events.emit([runtime.events.delivery_event(doc | fields)])
