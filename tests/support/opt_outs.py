"""A user to opt out, the message sent to them, and their opt-outs as the API lists them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.stacks import Stack

__all__ = ["hello", "mail_user", "opt_outs_of"]


async def mail_user(stack: Stack, unique: Callable[[str], str]) -> tuple[str, str]:
    uid = unique("optout")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "phoneNumber": "+393401234567", "groups": []})
    return uid, address


def hello(uid: str, channels: tuple[str, ...] = ("email",)) -> dict[str, Any]:
    return {"channels": list(channels), "recipients": [uid], "messageTitle": "Hi", "messageContent": "News"}


async def opt_outs_of(stack: Stack, uid: str) -> list[dict[str, Any]]:
    response = await stack.client.get(f"/users/{uid}/opt-outs")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
