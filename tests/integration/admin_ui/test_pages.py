"""Console pages given odd input answer a page, never a 500: paging, names in redirects, path values."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from host.api.app import create_app
from tests.support.console import add_staff, logged_in
from tests.support.stacks import Stack

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def editor(stack: Stack, unique: Callable[[str], str]) -> AsyncIterator[tuple[Client, str]]:
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        token = await logged_in(console, await add_staff(stack, f"{unique('ed')}@example.test", "editor"))
        yield console, token


async def test_paging_takes_any_skip(stack: Stack, editor: tuple[Client, str]) -> None:
    console, _ = editor
    accepted = await stack.send(
        {"channels": ["email"], "recipients": ["nobody"], "messageTitle": "t", "messageContent": "c"}
    )
    pages = ["/console/dispatches", f"/console/dispatches/{accepted['dispatchId']}", "/console/failures"]
    pages.append("/console/events")
    for path in pages:
        for skip in ("abc", "-3", "1e3", str(10**30), "²"):
            answer = await console.get(path, params={"skip": skip})
            assert answer.status_code == 200, (path, skip, answer.status_code)


async def test_a_cluster_name_is_percent_encoded_in_the_redirect(
    editor: tuple[Client, str], unique: Callable[[str], str]
) -> None:
    console, token = editor
    name = unique("line") + "\u2028sep é x"
    created = await console.post(
        "/console/clusters", data={"name": name, "description": ""}, headers={"X-CSRF-Token": token}
    )
    assert created.status_code == 200, created.text
    assert created.headers["HX-Redirect"] == "/console/clusters/" + quote(name, safe="")
    shown = await console.get(created.headers["HX-Redirect"])
    assert shown.status_code == 200 and "sep é x" in shown.text


async def test_a_version_that_is_not_a_number_is_not_found(stack: Stack, editor: tuple[Client, str]) -> None:
    console, token = editor
    made = await stack.client.post("/templates", json={"name": f"v-{id(console)}", "smsMessage": "hi"})
    assert made.status_code == 201, made.text
    for version in ("²", "٣", "x"):
        answer = await console.post(
            f"/console/templates/{made.json()['id']}/versions/{version}/restore",
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 404, (version, answer.status_code)
