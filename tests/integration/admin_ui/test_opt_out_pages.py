"""The console's opt-outs on the user page: shown, added and removed by staff, with the CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.documents import utcnow
from tests.support.console import PASSWORD, csrf_of, login
from tests.support.opt_outs import mail_user, opt_outs_of
from tests.support.stacks import Stack


@pytest.fixture
async def console(stack: Stack, unique: Callable[[str], str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A logged-in staff session on a second app over the stack's actors."""
    email = f"{unique('staff')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "role": "editor", "created_at": utcnow()}
    )
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        assert (await login(client, email)).status_code == 303
        yield client


async def test_console_user_page_shows_adds_and_removes_opt_outs(
    stack: Stack, console: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> None:
    uid, _ = await mail_user(stack, unique)
    assert (
        await stack.client.put(f"/users/{uid}/opt-outs/email", json={"reason": "too many"})
    ).status_code == 200
    page = await console.get(f"/console/users/{uid}")
    assert page.status_code == 200
    assert 'data-opt-out="email"' in page.text and "too many" in page.text
    csrf = {"X-CSRF-Token": csrf_of(page.text), "HX-Request": "true"}

    refused = await console.post(f"/console/users/{uid}/opt-outs", data={"channel": "sms"})
    assert refused.status_code == 403  # no CSRF token
    added = await console.post(f"/console/users/{uid}/opt-outs", data={"channel": "sms"}, headers=csrf)
    assert added.status_code == 200 and 'data-opt-out="sms"' in added.text
    assert {o["channel"]: o["source"] for o in await opt_outs_of(stack, uid)} == {
        "email": "api",
        "sms": "console",
    }

    removed = await console.post(f"/console/users/{uid}/opt-outs/email/remove", headers=csrf)
    assert removed.status_code == 200 and 'data-opt-out="email"' not in removed.text
    assert [o["channel"] for o in await opt_outs_of(stack, uid)] == ["sms"]
