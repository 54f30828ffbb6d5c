"""Staff accounts and logged-in console clients, for the tests that drive the console without a browser."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.staff import hash_password
from host.storage.documents import utcnow
from tests.support.stacks import Stack

__all__ = ["PASSWORD", "add_staff", "csrf_of", "logged_in", "login"]

PASSWORD = "correct horse battery"

Client = AsyncTestClient[Litestar]


async def login(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> Any:
    form = await client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post(
        "/console/login",
        data={"email": email, "password": password, "login_token": token.group(1)},
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


async def add_staff(stack: Stack, email: str, role: str | None) -> str:
    doc = {"email": email, "password_hash": hash_password(PASSWORD), "created_at": utcnow()}
    if role is not None:  # None: an account stored before roles existed
        doc["role"] = role
    await stack.db["staff"].insert_one(doc)
    return email


async def logged_in(client: Client, email: str, password: str = PASSWORD) -> str:
    """Log in afresh (no earlier cookies) and return the CSRF token of the first page."""
    client.cookies.clear()
    answer = await login(client, email, password)
    assert answer.status_code == 303, answer.text
    return csrf_of((await client.get("/console/templates")).text)
