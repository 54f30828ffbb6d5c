"""The console cancels a scheduled dispatch from its page, with the CSRF token like every other action."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.pages import SECURITY_HEADERS
from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.documents import utcnow
from tests.support.console import PASSWORD, csrf_of, login
from tests.support.stacks import Stack


@pytest.fixture
async def signed_in(stack: Stack, unique: Callable[[str], str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    email = f"{unique('editor')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "role": "editor", "created_at": utcnow()}
    )
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        await login(client, email)
        yield client


async def test_an_editor_cancels_a_scheduled_dispatch(
    stack: Stack, signed_in: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> None:
    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"channels": ["email"], "recipients": [unique("u")], "messageTitle": "T", "messageContent": "C"}
    dispatch_id = (await stack.send({**body, "sendAt": send_at}))["dispatchId"]
    page = await signed_in.get(f"/console/dispatches/{dispatch_id}")
    assert page.status_code == 200 and "Scheduled for" in page.text and 'id="cancel-dispatch"' in page.text
    action = f"/console/dispatches/{dispatch_id}/cancel"
    refused = await signed_in.post(action, headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert (await stack.db["dispatches"].find_one({"_id": dispatch_id}))["state"] == "scheduled"

    done = await signed_in.post(action, headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)})
    assert done.status_code == 200 and done.headers["HX-Redirect"] == f"/console/dispatches/{dispatch_id}"
    assert done.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert done.headers["x-frame-options"] == "DENY" and done.headers["cache-control"] == "no-store"
    stored = await stack.db["dispatches"].find_one({"_id": dispatch_id})
    assert stored["state"] == "cancelled" and stored["cancelled_by"].endswith("@example.test")
    after = await signed_in.get(f"/console/dispatches/{dispatch_id}")
    assert "Cancelled (was scheduled for" in after.text and 'id="cancel-dispatch"' not in after.text

    started = (await stack.send(body))["dispatchId"]
    late = await signed_in.post(
        f"/console/dispatches/{started}/cancel",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)},
    )
    assert late.headers["HX-Redirect"] == f"/console/dispatches/{started}?cancel=started"
    notice = await signed_in.get(late.headers["HX-Redirect"])
    assert "Too late to cancel" in notice.text
