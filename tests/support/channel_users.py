"""Users and templates for the end-to-end channel tests: every address, unique per test."""

from __future__ import annotations

import hashlib
from typing import Any

from bson import ObjectId

from tests.support.stacks import Stack

__all__ = ["add_template", "phone_for"]


def phone_for(uid: str) -> str:
    """An E.164 number of its own for each test user (the fakes are shared by the whole session)."""
    return "+39" + str(int(hashlib.sha256(uid.encode()).hexdigest(), 16))[:10]


async def add_template(stack: Stack, name: str, **fields: Any) -> str:
    """Store a template (fields in storage spelling, e.g. ``sms_message``) and return its id."""
    template_id = ObjectId()
    await stack.db["templates"].insert_one({"_id": template_id, "name": name, "syntax": "jinja", **fields})
    return str(template_id)
