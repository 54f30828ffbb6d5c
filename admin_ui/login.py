"""Login and logout of the console.

The login form carries its own CSRF token, signed with a server secret and bound to a cookie's nonce
(:mod:`admin_ui.login_tokens`: there is no session yet); a session exists only after a successful login,
so the session cookie always names a logged-in staff. A failed login waits ``FAILURE_DELAY`` seconds
before answering; every attempt is counted by the throttle (per address and client address,
:mod:`admin_ui.login_throttle`) before the password is checked.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect

from admin_ui.console import Console
from admin_ui.pages import client_redirect, page
from admin_ui.sessions import csrf_token, session_of
from admin_ui.staff import hash_password, normalise_email, verify_password
from host.storage.documents import utcnow

__all__ = ["FAILURE_DELAY", "LOGIN_COOKIE", "login_form", "login_submit", "logout"]

FAILURE_DELAY = 0.5
LOGIN_COOKIE = "tidings_console_login"
SESSION_COOKIE = "tidings_console"
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _login_page(
    request: Request[Any, Any, Any], console: Console, *, error: str = "", email: str = "", status: int = 200
) -> Response[Any]:
    token, nonce = console.login_tokens.issue()
    response = page(request, "login.html", error=error, email=email, login_token=token)
    response.status_code = status
    secure = request.app.state.get("console_secure_cookies", True)
    response.set_cookie(
        Cookie(
            key=LOGIN_COOKIE,
            value=nonce,
            path="/console/login",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    )
    return response


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Response[Any]:
    """The login form (already logged-in staff go straight to the console)."""
    if session_of(request).get("staff"):
        return Redirect(path="/console/templates", status_code=303)
    return _login_page(request, console)


@post("/login", opt={"public": True}, include_in_schema=False, status_code=303)
async def login_submit(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Response[Any]:
    """Check the password; start a session on success, count the failure otherwise."""
    form = await request.form()
    email = normalise_email(str(form.get("email", "")))
    sent_token = str(form.get("login_token", ""))
    cookie_token = request.cookies.get(LOGIN_COOKIE, "")
    if not console.login_tokens.check(sent_token, cookie_token):
        return _login_page(
            request, console, error="The form expired; please sign in again.", email=email, status=403
        )
    previous = request.cookies.get(SESSION_COOKIE)
    if previous and previous != "null":
        # never adopt a session id that existed before the login (session fixation)
        request.clear_session()
        return _login_page(
            request, console, error="Your previous session has ended; please sign in again.", email=email
        )
    client = request.client.host if request.client else "unknown"
    # the attempt is counted before the password is verified, so concurrent guesses cannot outrun it
    locked_until = await console.throttle.attempt(email, client)
    if locked_until is not None:
        await asyncio.sleep(FAILURE_DELAY)
        minutes = max(1, math.ceil((locked_until - utcnow()).total_seconds() / 60))
        return _login_page(
            request,
            console,
            error=f"Too many failed attempts from here: try again in {minutes} minutes.",
            email=email,
            status=429,
        )
    staff = await console.accounts.find(email)
    password = str(form.get("password", ""))
    # verify against a dummy hash for unknown addresses, so timing does not tell which accounts exist
    verified = verify_password(staff["password_hash"] if staff else _DUMMY_HASH, password)
    if not verified or staff is None or staff.get("disabled_at") is not None:
        await asyncio.sleep(FAILURE_DELAY)
        return _login_page(
            request, console, error="Wrong e-mail address or password.", email=email, status=401
        )
    await console.throttle.succeeded(email, client)
    await console.accounts.logged_in(staff["email"])
    session: dict[str, Any] = {"staff": staff["email"], "login_at": utcnow().timestamp()}
    csrf_token(session)
    request.set_session(session)
    response: Response[Any] = Redirect(path="/console/templates", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@post("/logout", include_in_schema=False, status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """End the session (the store entry is deleted and the cookie cleared)."""
    request.clear_session()
    return client_redirect("/console/login")
