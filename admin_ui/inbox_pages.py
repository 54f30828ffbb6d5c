"""Console pages for the embedded mode's inbox: what ``tidings run`` captured instead of sending.

The list searches by recipient (the text taken literally) and filters by channel; a capture shows as its
recipient would meet it: an e-mail with its headers, envelope, attachments to download and its HTML in
a sandboxed frame served with its own headers (admin_ui.frames); an SMS as a message bubble with its
encoding and segments; a push as a notification card; a call as the text read and its TwiML. Each also
shows the provider request that was captured. Outside ``tidings run`` there is no inbox: 404.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from litestar import Request, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.frames import FRAME_HEADERS, framed_html
from admin_ui.pages import client_redirect, page
from admin_ui.preview import count_sms
from host.errors import NotFound
from host.inbox.captures import Inbox
from host.inbox.views import attachment, capture_view
from host.runtime.wiring import Runtime

__all__ = [
    "capture_attachment",
    "capture_html",
    "capture_page",
    "capture_raw",
    "clear_inbox",
    "list_inbox",
]

CHANNELS = ("email", "sms", "voice", "push")
_UNSAFE_FILENAME = re.compile(r"[^\w .()+-]")


def _inbox(runtime: Runtime) -> Inbox:
    if runtime.inbox is None:
        raise NotFound("the inbox exists in the embedded mode only (tidings run)")
    return runtime.inbox


def _spoken(twiml: str) -> str:
    """The text a call reads out: every ``<Say>`` of its TwiML."""
    try:
        root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML the inbox provider itself wrote
    except ElementTree.ParseError:
        return ""
    return " ".join((say.text or "") for say in root.iter("Say"))


@get("/inbox", include_in_schema=False)
async def list_inbox(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Captured messages, newest first; ``q`` is a piece of the recipient, ``channel`` one channel."""
    to = str(request.query_params.get("q") or "").strip()
    channel = str(request.query_params.get("channel") or "")
    channel = channel if channel in CHANNELS else ""
    before = request.query_params.get("before") or None
    captures = await _inbox(runtime).search(to=to, channel=channel, before=before, limit=50)
    name = "_inbox_rows.html" if request.htmx else "inbox.html"
    return page(
        request,
        name,
        captures=captures,
        q=to,
        channel=channel,
        channels=CHANNELS,
        captured=runtime.registry.captured,
        more=captures[-1]["_id"] if len(captures) == 50 else None,
    )


@get("/inbox/{capture_id:str}", include_in_schema=False)
async def capture_page(
    request: Request[Any, Any, Any], capture_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One capture, as its recipient would meet it, and the provider request behind it."""
    inbox = _inbox(runtime)
    doc = await inbox.get(capture_id)
    raw = await inbox.raw(capture_id) if doc["channel"] == "email" else None
    view = capture_view(doc, raw)
    form = view.request.get("form", {})
    text = form.get("Body") or (_spoken(form["Twiml"]) if "Twiml" in form else "")
    return page(
        request,
        "inbox_capture.html",
        capture=view,
        request_json=json.dumps(view.request, indent=2, ensure_ascii=False),
        text=text,
        sms=count_sms(text) if view.channel == "sms" else None,
        push=view.request.get("payload") or view.request.get("json", {}).get("message", {}),
    )


@get("/inbox/{capture_id:str}/html", include_in_schema=False)
async def capture_html(capture_id: FromPath[str], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """The HTML body of a captured e-mail, as the document of its sandboxed frame."""
    view = capture_view(await _inbox(runtime).get(capture_id), await _inbox(runtime).raw(capture_id))
    return framed_html(view.email.html if view.email and view.email.html else "")


def _download(content: bytes, filename: str) -> Response[bytes]:
    """Bytes to save, never to open in the console's origin (opaque type, attachment, sandboxed)."""
    safe = _UNSAFE_FILENAME.sub("_", filename)[:120] or "download"
    return Response(
        content,
        media_type="application/octet-stream",
        headers={**FRAME_HEADERS, "Content-Disposition": f'attachment; filename="{safe}"'},
    )


@get("/inbox/{capture_id:str}/attachments/{index:str}", include_in_schema=False)
async def capture_attachment(
    capture_id: FromPath[str], index: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """One attachment of a captured e-mail (by its position), decoded, to download."""
    inbox = _inbox(runtime)
    await inbox.get(capture_id)
    if not index.isdigit():
        raise NotFound(f"index: {index!r} is not an attachment's position")
    found, content = attachment(await inbox.raw(capture_id), int(index))
    return _download(content, found.filename)


@get("/inbox/{capture_id:str}/raw", include_in_schema=False)
async def capture_raw(capture_id: FromPath[str], runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """The exact captured bytes: an e-mail as a ``.eml`` file."""
    inbox = _inbox(runtime)
    doc = await inbox.get(capture_id)
    extension = "eml" if doc["channel"] == "email" else "json"
    return _download(await inbox.raw(capture_id), f"{capture_id}.{extension}")


@delete("/inbox", include_in_schema=False, status_code=200)
async def clear_inbox(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Delete every capture (the page asks first)."""
    await _inbox(runtime).clear()
    return client_redirect("/console/inbox")
