"""The staff pages (admins only): an admin creates an editor, then disables it, which ends its session."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.console import add_staff, logged_in, login
from tests.support.stacks import Stack

Client = AsyncTestClient[Litestar]


async def test_an_admin_creates_an_editor_then_disables_it(
    stack: Stack, console: Client, unique: Callable[[str], str]
) -> None:
    admin = await add_staff(stack, f"{unique('admin')}@example.test", "admin")
    editor = f"{unique('new-editor')}@example.test"
    admin_token = await logged_in(console, admin)
    created = await console.post(
        "/console/staff",
        data={"email": editor.upper(), "password": "a long enough password", "role": "editor"},
        headers={"X-CSRF-Token": admin_token, "HX-Request": "true"},
    )
    assert created.status_code == 200 and f"Account {editor} (editor) created" in created.text
    stored = await stack.db["staff"].find_one({"email": editor})
    assert stored is not None and stored["role"] == "editor"
    assert "a long enough password" not in repr(stored)
    short = await console.post(
        "/console/staff",
        data={"email": f"x{editor}", "password": "short", "role": "editor"},
        headers={"X-CSRF-Token": admin_token},
    )
    assert "at least 10 characters" in short.text
    admin_cookies = httpx.Cookies(console.cookies)

    await logged_in(console, editor, "a long enough password")
    editor_cookies = httpx.Cookies(console.cookies)
    assert (await console.get("/console/keys")).status_code == 403

    console.cookies = admin_cookies
    own = await console.post(f"/console/staff/{admin}/disable", headers={"X-CSRF-Token": admin_token})
    assert "cannot disable your own account" in own.text
    disabled = await console.post(f"/console/staff/{editor}/disable", headers={"X-CSRF-Token": admin_token})
    assert disabled.status_code == 200 and "disabled" in disabled.text

    console.cookies = editor_cookies  # the editor's open session ends at its next request
    after = await console.get("/console/templates", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"] == "/console/login"
    console.cookies.clear()
    again = await login(console, editor, "a long enough password")
    assert again.status_code == 401
