"""Console security without a browser: login required everywhere, CSRF, cookie flags, lock-out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.login_throttle import LOCKOUT_AFTER
from admin_ui.preview import count_sms
from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.documents import utcnow
from tests.conftest import Stack

PASSWORD = "correct horse battery"
_PARAM = re.compile(r"\{(\w+)(:\w+)?\}")


@pytest.fixture
async def console(stack: Stack) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of a second app on the stack's actors, over https so Secure cookies come back."""
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        yield client


@pytest.fixture
async def staff_email(stack: Stack, unique: Callable[[str], str]) -> str:
    email = f"{unique('staff')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "created_at": utcnow()}
    )
    return email


async def login(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> Any:
    form = await client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post(
        "/console/login",
        data={"email": email, "password": password, "login_token": token.group(1)},
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def console_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) of every console route in the app's route table, but login and static."""
    routes = []
    for route in app.routes:
        path = route.path
        if not path.startswith("/console") or path.startswith(("/console/login", "/console/static")):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            routes.append((method, _PARAM.sub(lambda m: f"x-{m.group(1)}", path)))
    return routes


async def test_every_console_route_needs_a_session(console: AsyncTestClient[Litestar]) -> None:
    routes = console_routes(console.app)
    assert len(routes) > 15, routes  # the table really was read
    for method, path in routes:
        page = await console.request(method, path, follow_redirects=False)
        assert page.status_code == 303, (method, path, page.status_code)
        assert page.headers["location"] == "/console/login"
        fragment = await console.request(method, path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert fragment.status_code == 401, (method, path)
        assert fragment.headers["HX-Redirect"] == "/console/login"


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
    after = await console.get("/console/templates", follow_redirects=False)
    assert after.status_code == 303


async def test_state_changing_requests_need_the_csrf_token(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    await login(console, staff_email)
    token = csrf_of((await console.get("/console/templates")).text)
    body = {"name": "x", "sms_message": "Hi {{ user.name }}", "data": "{}"}
    refused = await console.post("/console/preview", data=body)
    assert refused.status_code == 403
    wrong = await console.post("/console/preview", data=body, headers={"X-CSRF-Token": token[::-1]})
    assert wrong.status_code == 403
    accepted = await console.post("/console/preview", data=body, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200 and "Hi " in accepted.text


async def test_login_form_needs_its_token(console: AsyncTestClient[Litestar], staff_email: str) -> None:
    forged = await console.post(
        "/console/login", data={"email": staff_email, "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert (await console.get("/console/templates", follow_redirects=False)).status_code == 303


async def test_repeated_failures_lock_the_account(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    for _ in range(LOCKOUT_AFTER):
        assert (await login(console, staff_email, "wrong password!")).status_code == 401
    locked = await login(console, staff_email)
    assert locked.status_code == 429 and "try again in 15 minutes" in locked.text
    assert (await console.get("/console/templates", follow_redirects=False)).status_code == 303


async def test_preview_keeps_template_html_in_a_sandboxed_iframe(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    await login(console, staff_email)
    token = csrf_of((await console.get("/console/templates")).text)
    html = "<p>Hello</p><script>window.parent.pwned = 1</script>"
    preview = await console.post(
        "/console/preview",
        data={"name": "x", "email_title": "T", "email_html_message": html, "data": "{}"},
        headers={"X-CSRF-Token": token},
    )
    iframe = re.search(r"<iframe[^>]*>", preview.text)
    assert iframe is not None
    assert " sandbox " in iframe.group(0) and "allow-scripts" not in iframe.group(0)
    assert "<script>" not in preview.text  # only escaped, inside srcdoc
    assert "script-src 'self'" in preview.headers["content-security-policy"]


async def test_preview_shows_errors_with_their_line(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    await login(console, staff_email)
    token = csrf_of((await console.get("/console/templates")).text)
    preview = await console.post(
        "/console/preview",
        data={"name": "x", "sms_message": "one\ntwo {% if %}", "data": "{"},
        headers={"X-CSRF-Token": token},
    )
    assert re.search(r'id="error-sms_message"[^>]*>line 2: ', preview.text), preview.text
    assert "sample data:" in preview.text


def test_sms_segments_follow_gsm7_and_ucs2() -> None:
    assert (count_sms("a" * 160).encoding, count_sms("a" * 160).segments) == ("GSM-7", 1)
    assert count_sms("a" * 161).segments == 2
    assert count_sms("€" * 80).units == 160 and count_sms("€" * 80).segments == 1
    assert (count_sms("ü" * 70).encoding, count_sms("ł" * 70).encoding) == ("GSM-7", "UCS-2")
    assert count_sms("ł" * 71).segments == 2
    assert count_sms("").segments == 0
