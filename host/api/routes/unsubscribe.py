"""The public unsubscribe pages behind the links in e-mails (RFC 8058 one-click), served without a login.

``GET /unsubscribe/{token}`` only shows a page with a confirm button: mail scanners and link previews
fetch links, so a GET must never unsubscribe. ``POST /unsubscribe/{token}`` (the button, or a mail
client's one-click POST with the body ``List-Unsubscribe=One-Click``) records the opt-out of e-mail and
says so. A tampered or expired token gets a 400 page saying the link is invalid or has expired. The
token travels in the path, so the pages send no Referer and are not cached. They are pages for people,
not API operations, so they stay out of the OpenAPI document (like the home page).
"""

from __future__ import annotations

from html import escape

from litestar import MediaType, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from host.access.unsubscribe_links import InvalidLink, LinkTarget
from host.runtime.wiring import Runtime

__all__ = ["ROUTES", "confirm_unsubscribe", "unsubscribe"]

_PUBLIC = {"public": True}
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
line-height:1.5}}
button{{font-size:1rem;padding:.5rem 1rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def _page(title: str, body: str, status_code: int = 200) -> Response[str]:
    return Response(
        _PAGE.format(title=escape(title), body=body),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers=_HEADERS,
    )


def _invalid() -> Response[str]:
    return _page(
        "Link invalid or expired",
        "<p>This unsubscribe link is invalid or has expired. "
        "Use the link in a more recent message, or contact the sender.</p>",
        status_code=400,
    )


def _target(runtime: Runtime, token: str) -> LinkTarget:
    if runtime.unsubscribe_links is None:
        raise InvalidLink()  # no secret key: nothing was signed, so no link can be valid
    return runtime.unsubscribe_links.read(token)


@get("/unsubscribe/{token:str}", opt=_PUBLIC, include_in_schema=False)
async def confirm_unsubscribe(token: FromPath[str], runtime: NamedDependency[Runtime]) -> Response[str]:
    """A page asking to confirm; nothing is recorded (mail scanners fetch links)."""
    try:
        _target(runtime, token)
    except InvalidLink:
        return _invalid()
    return _page(
        "Unsubscribe",
        '<p>Stop receiving these e-mails?</p><form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@post("/unsubscribe/{token:str}", opt=_PUBLIC, status_code=200, include_in_schema=False)
async def unsubscribe(token: FromPath[str], runtime: NamedDependency[Runtime]) -> Response[str]:
    """Record the opt-out of e-mail for the link's user, and say so."""
    try:
        target = _target(runtime, token)
    except InvalidLink:
        return _invalid()
    await runtime.opt_outs.record(target.user_id, target.channel, "link", "unsubscribe link")
    channel = "e-mail" if target.channel == "email" else escape(target.channel)
    return _page(
        "Unsubscribed", f"<p>You are unsubscribed: you will no longer receive these {channel} messages.</p>"
    )


#: the route handlers of this module, registered by the application plugin
ROUTES = [confirm_unsubscribe, unsubscribe]
