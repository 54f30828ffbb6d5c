"""Console sessions without a browser: every console route needs one, changes need its CSRF token, and a
session ends after 2 idle hours or 12 hours after its login (the console's clock moved by the test)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.plugin import AdminPlugin, ConsolePlugin
from admin_ui.sessions import SESSIONS_COLLECTION
from host.api.app import create_app
from host.plugins.app import AppContext
from host.storage.documents import utcnow
from tests.support.console import csrf_of, login
from tests.support.stacks import Stack

_PARAM = re.compile(r"\{(\w+)(:\w+)?\}")


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


class SessionClock:
    """The console's clock, moved by hand: it starts now (the login stamps the real time) and only
    moves when the test says so."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class ClockedConsole(ConsolePlugin):
    """The console app plugin with the sessions' clock in the test's hand."""

    def __init__(self, clock: SessionClock) -> None:
        self.clock = clock

    def litestar_plugins(self, context: AppContext) -> list[Any]:
        return [AdminPlugin(context, clock=self.clock)]


@pytest.fixture
def clock() -> SessionClock:
    return SessionClock()


@pytest.fixture
async def clocked(stack: Stack, clock: SessionClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(stack.actors, app_plugins=[ClockedConsole(clock)])
    async with AsyncTestClient(app, base_url="https://127.0.0.1") as client:
        yield client


async def page_status(client: AsyncTestClient[Litestar]) -> int:
    page = await client.get("/console/templates", follow_redirects=False)
    if page.status_code == 303:
        assert page.headers["location"] == "/console/login"
    return page.status_code


async def test_a_session_ends_after_two_idle_hours_and_lives_on_while_used(
    clocked: AsyncTestClient[Litestar], clock: SessionClock, staff_email: str, stack: Stack
) -> None:
    assert (await login(clocked, staff_email)).status_code == 303
    assert await page_status(clocked) == 200
    # each request renews the idle deadline: 3 h 58 min after the login, used every 1 h 59 min
    clock.advance(hours=1, minutes=59)
    assert await page_status(clocked) == 200
    clock.advance(hours=1, minutes=59)
    assert await page_status(clocked) == 200
    session_id = clocked.cookies["tidings_console"]
    assert await stack.db[SESSIONS_COLLECTION].find_one({"_id": session_id}) is not None

    clock.advance(hours=2, seconds=1)  # README: "sessions expire (2 h idle ...)"
    assert await page_status(clocked) == 303
    assert await stack.db[SESSIONS_COLLECTION].find_one({"_id": session_id}) is None


async def test_a_session_ends_twelve_hours_after_the_login_however_busy(
    clocked: AsyncTestClient[Litestar], clock: SessionClock, staff_email: str
) -> None:
    assert (await login(clocked, staff_email)).status_code == 303
    for _ in range(8):  # a request every 1 h 30 min: never idle for long, 12 h in all
        clock.advance(hours=1, minutes=30)
        assert await page_status(clocked) == 200
    clock.advance(minutes=1)  # README: "... 12 h at most"; idle for a minute only
    assert await page_status(clocked) == 303
