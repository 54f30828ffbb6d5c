"""The login throttle: per (address, client address), counted before the password is verified, growing locks.

Over real sockets, uvicorn serves a second application on the session stack's actors and clients
connect from different loopback addresses, so the server sees different client addresses, as it would
on a network; the locks' growth is shown on the development database with an injected clock.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from admin_ui.login import LOGIN_COOKIE
from admin_ui.login_throttle import LOCKOUT_AFTER, LoginThrottle
from host.api.app import create_app
from tests.support.console import PASSWORD
from tests.support.live import client_from, serve
from tests.support.stacks import Stack

#: the README: "five failed logins from one client lock that address for that client for 15 minutes"
ALLOWED = 5

START = datetime(2030, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_locks_grow_per_pair_and_a_success_clears_them(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    clock = Clock()
    throttle = LoginThrottle(stack.db, clock=clock)
    email, client = f"{unique('grow')}@example.test", "192.0.2.1"
    for _ in range(LOCKOUT_AFTER):
        assert await throttle.attempt(email, client) is None
    assert await throttle.attempt(email, client) == START + 15 * MINUTE
    assert await throttle.attempt(email.upper(), client) == START + 15 * MINUTE  # the address is normalised
    assert await throttle.attempt(email, "192.0.2.2") is None  # another client is not held up
    waits = []
    for _ in range(4):  # each lock ends with one attempt allowed; its failure doubles the next wait
        clock.now = await throttle.attempt(email, client) or clock.now
        assert await throttle.attempt(email, client) is None
        until = await throttle.attempt(email, client)
        assert until is not None
        waits.append((until - clock.now) / MINUTE)
    assert waits == [30, 60, 120, 240]
    await throttle.succeeded(email, client)
    for _ in range(LOCKOUT_AFTER):
        assert await throttle.attempt(email, client) is None
    assert await throttle.attempt(email, client) is not None


async def test_a_pair_quiet_for_a_day_starts_afresh(stack: Stack, unique: Callable[[str], str]) -> None:
    clock = Clock()
    throttle = LoginThrottle(stack.db, clock=clock, max_lock_seconds=3600)
    email, client = f"{unique('quiet')}@example.test", "192.0.2.3"
    for _ in range(LOCKOUT_AFTER):
        await throttle.attempt(email, client)
    for _ in range(3):  # 30 minutes, then the 1-hour cap
        clock.now = await throttle.attempt(email, client) or clock.now
        await throttle.attempt(email, client)
    assert await throttle.attempt(email, client) == clock.now + 60 * MINUTE
    clock.now += timedelta(days=1, minutes=1)
    for _ in range(LOCKOUT_AFTER):
        assert await throttle.attempt(email, client) is None
    assert await throttle.attempt(email, client) == clock.now + 15 * MINUTE


@pytest.fixture(scope="module")
def live(stack: Stack) -> Iterator[str]:
    with serve(create_app(stack.actors)) as url:
        yield url


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
