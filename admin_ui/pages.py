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

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response
from litestar.plugins.htmx import ClientRedirect

from admin_ui.sessions import csrf_token, session_of

__all__ = ["PAGE_SIZE", "SECURITY_HEADERS", "client_redirect", "page", "partial", "skip_of"]

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


def client_redirect(url: str) -> Response[Any]:
    """Tell htmx to load ``url`` as a whole page (``HX-Redirect``), with the console's security headers."""
    response = ClientRedirect(url)
    response.headers.update(SECURITY_HEADERS)
    return response


def skip_of(request: Request[Any, Any, Any]) -> int:
    """The ``skip`` of a paginated list (0 when absent, negative or not a number)."""
    try:
        return max(int(request.query_params.get("skip", "0") or 0), 0)
    except ValueError:
        return 0


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
