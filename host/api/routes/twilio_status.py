"""``POST /twilio/status``: Twilio's signed status callback (host.feedback.twilio); no API key.

A bad or missing ``X-Twilio-Signature`` is answered 403.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency

from host.feedback.twilio import STATUS_PATH
from host.runtime.wiring import Runtime

__all__ = ["twilio_status"]


@post(
    STATUS_PATH,
    opt={"public": True},
    status_code=204,
    summary="Twilio status callback (signed with X-Twilio-Signature)",
)
async def twilio_status(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> None:
    """Record the final status Twilio reports for a message or call."""
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    callbacks = runtime.twilio_callbacks
    callbacks.verify(request.url.query, params, request.headers.get("X-Twilio-Signature", ""))
    await callbacks.record(params)
