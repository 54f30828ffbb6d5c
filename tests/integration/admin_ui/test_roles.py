"""Staff roles: editors get 403 on the API key and staff pages, and never see them in the menu."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.console import add_staff, logged_in
from tests.support.stacks import Stack

Client = AsyncTestClient[Litestar]
ADMIN_PAGES = [("GET", "/console/keys"), ("GET", "/console/staff"), ("POST", "/console/keys")]
ADMIN_PAGES += [("POST", "/console/staff"), ("POST", "/console/keys/tdk_00000000/revoke")]
ADMIN_PAGES += [("POST", "/console/staff/someone@example.test/disable")]


async def test_an_editor_gets_403_on_keys_and_staff_pages(
    stack: Stack, console: Client, unique: Callable[[str], str]
) -> None:
    editor = await add_staff(stack, f"{unique('editor')}@example.test", "editor")
    token = await logged_in(console, editor)
    for method, path in ADMIN_PAGES:
        answer = await console.request(method, path, headers={"X-CSRF-Token": token}, follow_redirects=False)
        assert answer.status_code == 403, (method, path, answer.status_code)
    for path in ("/console/templates", "/console/clusters", "/console/users", "/console/dispatches"):
        assert (await console.get(path)).status_code == 200, path
    assert (await console.get("/console/failures")).status_code == 200
    templates = (await console.get("/console/templates")).text
    assert "/console/keys" not in templates and "/console/staff" not in templates
