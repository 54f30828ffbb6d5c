"""The console's login over real sockets: throttled per (address, client address), counted before verifying.

uvicorn serves a second application on the session stack's actors; clients connect from different
loopback addresses, so the server sees different client addresses, as it would on a network.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from admin_ui.login import LOGIN_COOKIE
from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.documents import utcnow
from tests.conftest import Stack
from tests.live import client_from, serve

PASSWORD = "correct horse battery"
#: the README: "five failed logins from one client address lock that address for 15 minutes"
ALLOWED = 5


@pytest.fixture(scope="module")
def live(stack: Stack) -> Iterator[str]:
    with serve(create_app(stack.actors)) as url:
        yield url


@pytest.fixture
async def staff_email(stack: Stack, unique: Callable[[str], str]) -> str:
    email = f"{unique('owner')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "created_at": utcnow()}
    )
    return email


async def login_form(client: httpx.AsyncClient) -> tuple[str, str]:
    """The form's token and the login cookie (Secure, so sent by hand over this plain-HTTP loopback)."""
    form = await client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    cookie = re.search(rf"{LOGIN_COOKIE}=([^;]+)", form.headers.get("set-cookie", ""))
    assert token is not None and cookie is not None
    return token.group(1), cookie.group(1)


async def submit(client: httpx.AsyncClient, form: tuple[str, str], email: str, password: str) -> Any:
    return await client.post(
        "/console/login",
        data={"email": email, "password": password, "login_token": form[0]},
        headers={"Cookie": f"{LOGIN_COOKIE}={form[1]}"},
        follow_redirects=False,
    )


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    return await submit(client, await login_form(client), email, password)


async def test_a_stranger_cannot_lock_the_owner_out(live: str, staff_email: str) -> None:
    async with client_from(live, "127.0.0.2") as stranger, client_from(live, "127.0.0.3") as owner:
        answers = [(await login(stranger, staff_email, "wrong password!")).status_code for _ in range(7)]
        assert answers == [401] * ALLOWED + [429, 429]
        welcome = await login(owner, staff_email)
        assert welcome.status_code == 303 and welcome.headers["location"] == "/console/templates"
        locked = await login(stranger, staff_email)  # the guesser waits, right password or not
        assert locked.status_code == 429 and "try again" in locked.text


async def test_concurrent_guesses_are_counted_before_the_password_is_verified(
    live: str, staff_email: str
) -> None:
    async with client_from(live, "127.0.0.4") as guesser:
        forms = [await login_form(guesser) for _ in range(20)]
        answers = await asyncio.gather(
            *(submit(guesser, form, staff_email, "wrong guess!") for form in forms)
        )
    assert Counter(answer.status_code for answer in answers) == {401: ALLOWED, 429: 20 - ALLOWED}


async def test_the_login_form_token_is_bound_to_the_server_secret(stack: Stack, staff_email: str) -> None:
    """An equal cookie and field of the attacker's choosing is no token: it must carry the server's HMAC."""
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        forged = await console.post(
            "/console/login",
            data={"email": staff_email, "password": PASSWORD, "login_token": "chosen-by-the-attacker"},
            headers={"Cookie": f"{LOGIN_COOKIE}=chosen-by-the-attacker"},
            follow_redirects=False,
        )
        assert forged.status_code == 403, forged.status_code
        form = await console.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None
        swapped = await console.post(  # a real token, with another form's cookie
            "/console/login",
            data={"email": staff_email, "password": PASSWORD, "login_token": token.group(1)},
            headers={"Cookie": f"{LOGIN_COOKIE}=another-nonce"},
            follow_redirects=False,
        )
        assert swapped.status_code == 403
        console.cookies.clear()
        real = await console.get("/console/login")
        real_token = re.search(r'name="login_token" value="([^"]+)"', real.text)
        assert real_token is not None
        welcome = await console.post(
            "/console/login",
            data={"email": staff_email, "password": PASSWORD, "login_token": real_token.group(1)},
            follow_redirects=False,
        )
        assert welcome.status_code == 303
