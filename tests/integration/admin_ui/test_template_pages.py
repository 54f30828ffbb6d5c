"""The console refuses a template that does not compile, as the API does: the error shown, nothing saved."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

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


async def test_a_new_template_that_does_not_compile_is_not_saved(
    stack: Stack, editor: tuple[Client, str], unique: Callable[[str], str]
) -> None:
    console, token = editor
    name = unique("broken")
    form = {"name": name, "email_title": "Hi", "email_message": "ok", "sms_message": "one\ntwo {% if %}"}
    answer = await console.post("/console/templates", data=form, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and "HX-Redirect" not in answer.headers
    assert 'role="alert"' in answer.text and "smsMessage" in answer.text and "line 2" in answer.text
    assert await stack.db["templates"].find_one({"name": name}) is None


@pytest.mark.parametrize(
    ("syntax", "broken"), [("jinja", "Dear {{ user.name "), ("handlebars", "{{#each data.items}}no end")]
)
async def test_a_saved_template_keeps_its_version_when_the_edit_does_not_compile(
    stack: Stack, editor: tuple[Client, str], unique: Callable[[str], str], syntax: str, broken: str
) -> None:
    console, token = editor
    name = unique(f"kept-{syntax}")
    made = await stack.client.post(
        "/templates", json={"name": name, "syntax": syntax, "emailTitle": "Hi", "emailMessage": "fine"}
    )
    assert made.status_code == 201, made.text
    form = {"name": name, "email_title": "Hi", "email_message": broken}
    answer = await console.post(
        f"/console/templates/{made.json()['id']}", data=form, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 200 and 'role="alert"' in answer.text and "emailMessage" in answer.text
    stored = await stack.db["templates"].find_one({"name": name})
    assert stored is not None and stored["version"] == 1 and stored["email_message"] == "fine"
