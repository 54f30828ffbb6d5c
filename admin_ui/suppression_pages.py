"""Console pages for deliverability: the suppression list (search, why and when, remove) and the bounce
mailbox's kept mail (what could not be read or mapped: listed, downloaded whole, read again).

Both call the host's services (``runtime.suppressions``, ``runtime.feedback``, ``runtime.bounce_mail``);
for admins and editors, like opt-outs.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.pages import PAGE_SIZE, SECURITY_HEADERS, page, partial, skip_of
from host.audience.suppressions import REASONS
from host.errors import NotFound
from host.runtime.wiring import Runtime

__all__ = [
    "bounce_mail",
    "bounce_mail_raw",
    "list_suppressions",
    "read_bounce_mail_again",
    "remove_suppression",
]

_STATES = ("kept", "received", "recorded", "ignored")


@get("/suppressions", include_in_schema=False)
async def list_suppressions(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Suppressed addresses containing the search, of one reason, by address."""
    search = str(request.query_params.get("search") or "").strip()
    reason = str(request.query_params.get("reason") or "").strip()
    reason = reason if reason in REASONS else ""
    skip = skip_of(request)
    found = await runtime.suppressions.search(search or None, reason or None, limit=skip + PAGE_SIZE)
    rows = found[skip:]
    name = "_suppression_rows.html" if request.htmx else "suppressions.html"
    return page(
        request, name, suppressions=rows, search=search, reason=reason, reasons=REASONS, skip=skip,
        size=PAGE_SIZE,
    )  # fmt: skip


@post("/suppressions/{address:str}/remove", include_in_schema=False, status_code=200)
async def remove_suppression(
    request: Request[Any, Any, Any], address: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Send to the address again (its soft-bounce count starts over); answers an empty row."""
    if not await runtime.feedback.forget(address):
        raise NotFound(f"{address!r} is not suppressed")
    return partial(request, "_suppression_rows.html", suppressions=[], removed=address)


@get("/bounce-mail", include_in_schema=False)
async def bounce_mail(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """The bounce listener's mail, newest first: by default what was kept (unreadable or unmapped)."""
    state = str(request.query_params.get("state", "kept"))
    state = state if state in (*_STATES, "") else "kept"
    skip = skip_of(request)
    mail = await runtime.bounce_mail.recent(state or None, skip=skip, limit=PAGE_SIZE)
    name = "_bounce_mail_rows.html" if request.htmx else "bounce_mail.html"
    domain = runtime.bounce_mail.domain
    return page(
        request, name, mail=mail, state=state, states=_STATES, skip=skip, size=PAGE_SIZE, domain=domain
    )


@get("/bounce-mail/{mail_id:str}/raw", include_in_schema=False)
async def bounce_mail_raw(mail_id: FromPath[str], runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """A kept message, byte for byte, to open in a mail client."""
    doc = await runtime.bounce_mail.get(mail_id)
    if doc is None or doc.get("raw") is None:
        raise NotFound("no kept message with this id (recorded messages keep their reports, not their bytes)")
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="bounce-{mail_id}.eml"'}
    return Response(bytes(doc["raw"]), media_type="message/rfc822", headers=headers)


@post("/bounce-mail/{mail_id:str}/read-again", include_in_schema=False, status_code=200)
async def read_bounce_mail_again(
    request: Request[Any, Any, Any], mail_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Read a kept message again (its delivery may exist by now); answers its row."""
    doc = await runtime.bounce_mail.read_again(mail_id)
    if doc is None:
        raise NotFound("no kept message with this id")
    return partial(request, "_bounce_mail_rows.html", mail=[doc])
