"""Staff roles: admins manage API keys and staff accounts, editors get 403 there; disabling ends access."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pymongo import MongoClient

from host.access.api_keys import API_KEYS_COLLECTION, ApiKeys
from host.api.app import create_app
from host.cli.main import cli
from host.storage.devdb import DevDatabase
from tests.support.console import PASSWORD, add_staff, logged_in, login
from tests.support.stacks import Stack

Client = AsyncTestClient[Litestar]
KEY = re.compile(r"tdk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
ADMIN_PAGES = [("GET", "/console/keys"), ("GET", "/console/staff"), ("POST", "/console/keys")]
ADMIN_PAGES += [("POST", "/console/staff"), ("POST", "/console/keys/tdk_00000000/revoke")]
ADMIN_PAGES += [("POST", "/console/staff/someone@example.test/disable")]


@pytest.fixture
async def console(stack: Stack) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        yield client


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


async def test_an_admin_creates_a_key_shown_once_and_revokes_it(
    stack: Stack, console: Client, unique: Callable[[str], str]
) -> None:
    admin = await add_staff(stack, f"{unique('admin')}@example.test", None)  # no role stored: an admin
    token = await logged_in(console, admin)
    page = await console.get("/console/keys")
    assert page.status_code == 200 and 'href="/console/keys"' in page.text
    name = unique("key")
    created = await console.post(
        "/console/keys",
        data={"name": name, "scope": ["send", "read"]},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert created.status_code == 200, created.text
    shown = KEY.findall(created.text)
    assert len(shown) == 1
    key = shown[0]
    doc = await stack.db[API_KEYS_COLLECTION].find_one({"name": name})
    assert doc is not None and doc["created_by"] == admin and doc["scopes"] == ["send", "read"]
    assert key not in repr(doc) and doc["prefix"] == key[:12]
    again = await console.get("/console/keys")
    assert key[:12] in again.text and key not in again.text  # listed by prefix, never shown again
    assert (await ApiKeys(stack.db).verify(key)) is not None
    refused = await console.post("/console/keys", data={"name": "x"}, headers={"X-CSRF-Token": token})
    assert "at least one" in refused.text
    revoked = await console.post(
        f"/console/keys/{key[:12]}/revoke", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert (await ApiKeys(stack.db).verify(key)) is None


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


def test_staff_cli_creates_an_editor(devdb: DevDatabase, unique: Callable[[str], str]) -> None:
    env = {"MONGODB_URL": devdb.url, "MONGODB_DATABASE": unique("staff").replace("-", "_")}
    args = ["staff", "create", "ed@example.test", "--role", "editor", "--password", PASSWORD]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "ed@example.test (editor) created" in result.output
    with MongoClient(devdb.url) as client:
        doc = client[env["MONGODB_DATABASE"]]["staff"].find_one({"email": "ed@example.test"})
        client.drop_database(env["MONGODB_DATABASE"])
    assert doc is not None and doc["role"] == "editor" and doc["disabled_at"] is None
