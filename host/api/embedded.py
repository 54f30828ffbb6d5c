"""What the API adds in the embedded mode: the inbox as JSON (`GET /dev/inbox`, a capture, its bytes, clear).

Registered only by ``tidings run`` (host.api.app): ``tidings api`` never captures, so these paths are
404 there. Not in the OpenAPI document: they are a development aid, not the service's API.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from host.inbox.captures import Inbox
from host.inbox.views import CaptureView, capture_view
from host.runtime.wiring import Runtime

__all__ = [
    "ROUTES",
    "CapturePage",
    "Cleared",
    "clear_inbox",
    "get_capture",
    "get_capture_raw",
    "list_captures",
]

#: what a raw capture is served as, by channel (anything else is JSON or opaque bytes)
_RAW_TYPES = {"email": ("message/rfc822", "eml"), "push": ("application/json", "json")}


class CapturePage(msgspec.Struct, rename="camel", kw_only=True):
    """Captures newest first; pass ``nextBefore`` as ``before`` for the next page."""

    items: list[CaptureView]
    next_before: str | None


class Cleared(msgspec.Struct, kw_only=True):
    """How many captures ``DELETE /dev/inbox`` removed."""

    deleted: int


def _inbox(runtime: Runtime) -> Inbox:
    assert runtime.inbox is not None, "the inbox routes are registered in the embedded mode only"
    return runtime.inbox


@get("/dev/inbox", include_in_schema=False)
async def list_captures(
    runtime: NamedDependency[Runtime],
    to: FromQuery[str] = "",
    channel: FromQuery[str] = "",
    before: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
) -> CapturePage:
    """Captured messages, newest first; ``to`` is a piece of the recipient (taken literally, any case)."""
    docs = await _inbox(runtime).search(to=to, channel=channel, before=before, limit=limit)
    items = [capture_view(doc) for doc in docs]
    return CapturePage(items=items, next_before=items[-1].id if len(items) == limit else None)


@get("/dev/inbox/{capture_id:str}", include_in_schema=False)
async def get_capture(capture_id: FromPath[str], runtime: NamedDependency[Runtime]) -> CaptureView:
    """One capture; an e-mail with its headers, bodies and attachments read from its MIME."""
    inbox = _inbox(runtime)
    doc = await inbox.get(capture_id)
    raw = await inbox.raw(capture_id) if doc["channel"] == "email" else None
    return capture_view(doc, raw)


@get("/dev/inbox/{capture_id:str}/raw", include_in_schema=False)
async def get_capture_raw(capture_id: FromPath[str], runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """The exact captured bytes: an e-mail's MIME (``.eml``), a Web Push payload."""
    inbox = _inbox(runtime)
    doc = await inbox.get(capture_id)
    media_type, extension = _RAW_TYPES.get(doc["channel"], ("application/octet-stream", "bin"))
    return Response(
        await inbox.raw(capture_id),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{capture_id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@delete("/dev/inbox", include_in_schema=False, status_code=200)
async def clear_inbox(runtime: NamedDependency[Runtime]) -> Cleared:
    """Delete every capture."""
    return Cleared(deleted=await _inbox(runtime).clear())


#: registered by the application plugin in the embedded mode only
ROUTES = [list_captures, get_capture, get_capture_raw, clear_inbox]
