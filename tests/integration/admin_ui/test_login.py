"""Console login: safe session cookies, logout closing access, and a login form that needs its own token."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.console import PASSWORD, csrf_of, login


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
