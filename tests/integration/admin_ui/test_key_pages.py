"""The console's API key pages (admins only): a key shown once at creation, listed by prefix, revoked."""

from __future__ import annotations

import re
from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient

from host.access.api_keys import API_KEYS_COLLECTION, ApiKeys
from tests.support.console import add_staff, logged_in
from tests.support.stacks import Stack

Client = AsyncTestClient[Litestar]


KEY = re.compile(r"tdk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


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
