"""Console sessions without a browser: every console route needs one, and changes need its CSRF token."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.console import csrf_of, login

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
