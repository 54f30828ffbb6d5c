"""The console's suppression list and bounce mail: search, why and when, remove; kept mail listed, whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.documents import utcnow
from tests.admin_ui.test_security import PASSWORD, csrf_of, login
from tests.conftest import Stack


@pytest.fixture
async def console(stack: Stack, unique: Callable[[str], str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A logged-in editor on a second app over the session stack's actors."""
    email = f"{unique('staff')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "role": "editor", "created_at": utcnow()}
    )
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        assert (await login(client, email)).status_code == 303
        yield client


def htmx(page: Any) -> dict[str, str]:
    return {"X-CSRF-Token": csrf_of(page.text), "HX-Request": "true"}


async def test_editors_search_see_why_and_remove_suppressions(
    stack: Stack, console: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> None:
    address = f"{unique('gone')}@example.org"
    detail = {
        "source": "ses",
        "status": "5.1.1",
        "detail": "smtp; 550 5.1.1 user unknown",
        "dispatch_id": "d-1",
    }
    await stack.runtime.suppressions.add(address, "hard-bounce", detail)
    await stack.runtime.suppressions.add(f"{unique('other')}@example.org", "complaint", {"source": "smtp"})

    page = await console.get("/console/suppressions", params={"search": unique("gone")})
    assert page.status_code == 200
    assert f'data-suppression="{address}"' in page.text and "hard-bounce" in page.text
    assert "5.1.1" in page.text and "user unknown" in page.text and "ses" in page.text
    assert unique("other") not in page.text
    assert 'href="/console/suppressions"' in page.text  # in the navigation
    by_reason = await console.get(
        "/console/suppressions", params={"search": unique(""), "reason": "complaint"}
    )
    assert unique("other") in by_reason.text and address not in by_reason.text

    no_token = await console.post(f"/console/suppressions/{address}/remove", headers={"HX-Request": "true"})
    assert no_token.status_code == 403
    removed = await console.post(f"/console/suppressions/{address}/remove", headers=htmx(page))
    assert removed.status_code == 200 and f'data-removed="{address}"' in removed.text
    assert await stack.runtime.suppressions.get(address) is None
    again = await console.post(f"/console/suppressions/{address}/remove", headers=htmx(page))
    assert again.status_code == 404


async def test_kept_bounce_mail_is_listed_downloaded_whole_and_read_again(
    stack: Stack, console: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> None:
    raw = f"From: {unique('away')}@example.org\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n".encode()
    assert (await stack.runtime.bounce_mail.receive("", ["bounces@tidings.test"], raw)).startswith("250")
    [kept] = await stack.runtime.bounce_mail.recent("kept", limit=1)

    page = await console.get("/console/bounce-mail")
    assert page.status_code == 200
    assert f'data-mail="{kept["_id"]}"' in page.text and "not a report" in page.text
    download = await console.get(f"/console/bounce-mail/{kept['_id']}/raw")
    assert download.status_code == 200 and download.content == raw
    assert download.headers["content-type"].startswith("message/rfc822")
    assert "attachment" in download.headers["content-disposition"]

    read = await console.post(f"/console/bounce-mail/{kept['_id']}/read-again", headers=htmx(page))
    assert read.status_code == 200 and 'data-state="kept"' in read.text
    assert (await console.get("/console/bounce-mail/not-an-id/raw")).status_code == 404
