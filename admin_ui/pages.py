"""Page rendering for the console: its own autoescaping Jinja2 environment over ``admin_ui/templates``.

The console keeps its environment to itself rather than setting the application's template engine, so
it composes with any other plugin. Partials are the templates named ``_name.html``: a handler answers
one when ``request.htmx`` says htmx asked (the console's requests are Litestar's ``HTMXRequest``), and
sends htmx elsewhere with :func:`client_redirect` (the htmx plugin's ``ClientRedirect``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response
from litestar.plugins.htmx import ClientRedirect

from admin_ui.sessions import csrf_token, session_of
from host.plugins.conventions import redact_urls

__all__ = [
    "MAX_SKIP",
    "PAGE_SIZE",
    "SECURITY_HEADERS",
    "client_redirect",
    "console_path",
    "page",
    "partial",
    "skip_of",
]

PAGE_SIZE = 50

#: no inline script anywhere in the console, so the policy can forbid it (previews are sandboxed iframes)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


_environment.filters["when"] = _when
# a URL's userinfo and query values (a webhook's credentials) are starred wherever a page shows one
_environment.filters["redacted"] = redact_urls


def client_redirect(url: str) -> Response[Any]:
    """Tell htmx to load ``url`` as a whole page (``HX-Redirect``), with the console's security headers."""
    response = ClientRedirect(url)
    response.headers.update(SECURITY_HEADERS)
    return response


#: the database takes a 64-bit skip: anything past this is past every list anyway
MAX_SKIP = 10**9


def skip_of(request: Request[Any, Any, Any]) -> int:
    """The ``skip`` of a paginated list: 0 when absent, negative or not a (decimal ASCII) number."""
    raw = str(request.query_params.get("skip", "") or "").strip()
    if not raw.isascii() or not raw.isdigit():
        return 0
    return min(int(raw), MAX_SKIP)


def console_path(*segments: str, query: str = "") -> str:
    """``/console/<segments>[?query]``, each segment percent-encoded, for :func:`client_redirect`.

    A header value holds no line break nor non-Latin-1 text: a cluster name with U+2028 made a 500.
    """
    path = "/console/" + "/".join(quote(segment, safe="") for segment in segments)
    return path + (f"?{query}" if query else "")


def page(request: Request[Any, Any, Any], name: str, **context: Any) -> Response[str]:
    """A full page (or fragment) with the staff e-mail and the CSRF token in the context."""
    session = session_of(request)
    context.setdefault("staff", session.get("staff"))
    context.setdefault("role", session.get("role"))  # navigation only: access is checked by the guards
    context.setdefault("csrf", csrf_token(session) if session.get("staff") else "")
    context.setdefault("path", request.url.path)
    context.setdefault("inbox", request.app.state.get("console_inbox", False))  # tidings run only
    html = _environment.get_template(name).render(**context)
    return Response(
        html,
        media_type=MediaType.HTML,
        headers=SECURITY_HEADERS,
    )


def partial(request: Request[Any, Any, Any], name: str, **context: Any) -> Response[str]:
    """An htmx partial; the same as :func:`page`, named for readability at the call site."""
    return page(request, name, **context)
