"""Staff accounts: repeated failed logins lock the account, even against the right password."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.login_throttle import LOCKOUT_AFTER
from tests.support.console import login


async def test_repeated_failures_lock_the_account(
    console: AsyncTestClient[Litestar], staff_email: str
) -> None:
    for _ in range(LOCKOUT_AFTER):
        assert (await login(console, staff_email, "wrong password!")).status_code == 401
    locked = await login(console, staff_email)
    assert locked.status_code == 429 and "try again in 15 minutes" in locked.text
    assert (await console.get("/console/templates", follow_redirects=False)).status_code == 303
