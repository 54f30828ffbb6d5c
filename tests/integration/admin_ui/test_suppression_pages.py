"""The console's suppression list and bounce mail: search, why and when, remove; kept mail listed, whole."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.console import add_staff, logged_in
from tests.support.stacks import Stack


async def as_editor(
    stack: Stack, console: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> dict[str, str]:
    """Log an editor in; the headers of htmx requests with the session's CSRF token."""
    email = await add_staff(stack, f"{unique('editor')}@example.test", "editor")
    return {"X-CSRF-Token": await logged_in(console, email), "HX-Request": "true"}


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

    headers = await as_editor(stack, console, unique)
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
    removed = await console.post(f"/console/suppressions/{address}/remove", headers=headers)
    assert removed.status_code == 200 and f'data-removed="{address}"' in removed.text
    assert await stack.runtime.suppressions.get(address) is None
    again = await console.post(f"/console/suppressions/{address}/remove", headers=headers)
    assert again.status_code == 404


async def test_kept_bounce_mail_is_listed_downloaded_whole_and_read_again(
    stack: Stack, console: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> None:
    raw = f"From: {unique('away')}@example.org\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n".encode()
    assert (await stack.runtime.bounce_mail.receive("", ["bounces@tidings.test"], raw)).startswith("250")
    [kept] = await stack.runtime.bounce_mail.recent("kept", limit=1)
    headers = await as_editor(stack, console, unique)

    page = await console.get("/console/bounce-mail")
    assert page.status_code == 200
    assert f'data-mail="{kept["_id"]}"' in page.text and "not a report" in page.text
    download = await console.get(f"/console/bounce-mail/{kept['_id']}/raw")
    assert download.status_code == 200 and download.content == raw
    assert download.headers["content-type"].startswith("message/rfc822")
    assert "attachment" in download.headers["content-disposition"]

    read = await console.post(f"/console/bounce-mail/{kept['_id']}/read-again", headers=headers)
    assert read.status_code == 200 and 'data-state="kept"' in read.text
    assert (await console.get("/console/bounce-mail/not-an-id/raw")).status_code == 404
