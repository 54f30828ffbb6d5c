"""The console without a browser: a second app on the session stack's actors, and a staff account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.staff import hash_password
from host.api.app import create_app
from host.storage.documents import utcnow
from tests.support.console import PASSWORD
from tests.support.stacks import Stack


@pytest.fixture
async def console(stack: Stack) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of a second app on the stack's actors, over https so Secure cookies come back."""
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        yield client


@pytest.fixture
async def staff_email(stack: Stack, unique: Callable[[str], str]) -> str:
    email = f"{unique('staff')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "created_at": utcnow()}
    )
    return email
