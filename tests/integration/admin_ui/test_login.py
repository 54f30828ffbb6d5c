"""Console login: safe session cookies, logout closing access, a login form token signed by the server."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.login import LOGIN_COOKIE
from host.api.app import create_app
from tests.support.console import PASSWORD, csrf_of, login
from tests.support.stacks import Stack


async def test_login_sets_safe_cookies_and_logout_closes_access(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    answer = await login(console, staff_email)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/templates"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("tidings_console="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "secure", "path=/console"} <= flags
    templates = await console.get("/console/templates")
    assert templates.status_code == 200 and staff_email in templates.text
    out = await console.post("/console/logout", headers={"X-CSRF-Token": csrf_of(templates.text)})
    assert out.status_code == 200 and out.headers["HX-Redirect"] == "/console/login"
    assert out.headers["x-frame-options"] == "DENY"  # the console's security headers, on redirects too
    after = await console.get("/console/templates", follow_redirects=False)
    assert after.status_code == 303


async def test_login_form_needs_its_token(console: AsyncTestClient[Litestar], staff_email: str) -> None:
    forged = await console.post(
        "/console/login", data={"email": staff_email, "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert (await console.get("/console/templates", follow_redirects=False)).status_code == 303


async def test_the_login_form_token_is_bound_to_the_server_secret(stack: Stack, staff_email: str) -> None:
    """An equal cookie and field of the attacker's choosing is no token: it must carry the server's HMAC."""
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        forged = await console.post(
            "/console/login",
            data={"email": staff_email, "password": PASSWORD, "login_token": "chosen-by-the-attacker"},
            headers={"Cookie": f"{LOGIN_COOKIE}=chosen-by-the-attacker"},
            follow_redirects=False,
        )
        assert forged.status_code == 403, forged.status_code
        form = await console.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None
        swapped = await console.post(  # a real token, with another form's cookie
            "/console/login",
            data={"email": staff_email, "password": PASSWORD, "login_token": token.group(1)},
            headers={"Cookie": f"{LOGIN_COOKIE}=another-nonce"},
            follow_redirects=False,
        )
        assert swapped.status_code == 403
        console.cookies.clear()
        real = await console.get("/console/login")
        real_token = re.search(r'name="login_token" value="([^"]+)"', real.text)
        assert real_token is not None
        welcome = await console.post(
            "/console/login",
            data={"email": staff_email, "password": PASSWORD, "login_token": real_token.group(1)},
            follow_redirects=False,
        )
        assert welcome.status_code == 303
