"""``POST /feedback/ses``, ``/feedback/sendgrid``, ``/feedback/mailgun``: the providers' signed webhooks.

No API key (``opt={"public": True}``, like ``/twilio/status``): each provider's signature is the
authentication (host.feedback.ses, .sendgrid, .mailgun), and a bad or missing one is answered 403. A body
over 1 MB is refused with 413, a provider that is not configured answers 404, and the answer counts what
was recorded (``{"recorded": 1, "duplicates": 0, ...}``), always in the API's shapes.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from host.errors import NotFound, RequestError
from host.feedback.esp import MAX_BODY, Summary
from host.runtime.wiring import Runtime

__all__ = ["ROUTES", "mailgun_events", "sendgrid_events", "ses_notifications"]

_PUBLIC: dict[str, Any] = {"public": True}


async def _body(request: Request[Any, Any, Any]) -> bytes:
    try:
        return await request.body()
    except RequestEntityTooLarge:
        raise RequestError(f"body: larger than {MAX_BODY} bytes", status_code=413) from None


def _not_configured(provider: str, how: str) -> NotFound:
    return NotFound(f"{provider} feedback is not configured ({how})")


@post(
    "/feedback/ses",
    opt=_PUBLIC,
    status_code=200,
    request_max_body_size=MAX_BODY,
    summary="Amazon SES bounces and complaints through SNS (signed by SNS)",
)
async def ses_notifications(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Summary:
    """Verify an SNS message (confirming a subscription) and record the SES notification it carries."""
    if runtime.ses_notifications is None:
        raise _not_configured("Amazon SES", "set bounces.ses in the configuration file")
    return await runtime.ses_notifications.handle(await _body(request))


@post(
    "/feedback/sendgrid",
    opt=_PUBLIC,
    status_code=200,
    request_max_body_size=MAX_BODY,
    summary="SendGrid's Event Webhook (signed with ECDSA)",
)
async def sendgrid_events(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Summary:
    """Verify a signed batch of SendGrid events and record its bounces and spam reports."""
    if runtime.sendgrid_events is None:
        raise _not_configured("SendGrid", "set SENDGRID_WEBHOOK_PUBLIC_KEY")
    body = await _body(request)
    return await runtime.sendgrid_events.handle(request.headers, body)


@post(
    "/feedback/mailgun",
    opt=_PUBLIC,
    status_code=200,
    request_max_body_size=MAX_BODY,
    summary="Mailgun's webhooks (signed with HMAC-SHA256)",
)
async def mailgun_events(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Summary:
    """Verify a signed Mailgun event and record it if it is a bounce or a complaint."""
    if runtime.mailgun_events is None:
        raise _not_configured("Mailgun", "set MAILGUN_WEBHOOK_SIGNING_KEY")
    return await runtime.mailgun_events.handle(await _body(request))


#: the route handlers of this module, registered by the application plugin
ROUTES = [ses_notifications, sendgrid_events, mailgun_events]
