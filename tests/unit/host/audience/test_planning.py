"""Planning (``plan()``, pure): the delivery each user gets on a channel, from a plain or a dotted address
field, and the failures known before anything is sent."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from host.audience.planning import DeliveryPlanner
from host.plugins.registry import ChannelRegistry
from host.settings import load_service_config
from host.storage.documents import utcnow
from tests.support.configs import STACK_CONFIG

#: the session stack's user fields and its e-mail channel, built as the registry builds them (no SMTP)
CONFIG = load_service_config(json.dumps({**STACK_CONFIG, "activeChannels": ["email"]}))
EMAIL = ChannelRegistry.build(CONFIG, {})["email"]


@pytest.mark.parametrize("field", ["mail", "contacts.mail"])
@pytest.mark.parametrize(
    ("contact", "status", "address", "code"),
    [
        ({"mail": "a@example.org"}, "queued", "a@example.org", None),
        ({"mail": " a@example.org "}, "queued", "a@example.org", None),
        (
            {"mail": "a@example.org", "mailExpired": {"address": "a@example.org"}},
            "skipped",
            "a@example.org",
            "address-expired",
        ),
        (
            {"mail": "b@example.org", "mailExpired": {"address": "a@example.org"}},
            "queued",
            "b@example.org",
            None,
        ),
        ({"mail": "not an address"}, "failed", None, "invalid-address"),
        ({"mail": 42}, "failed", None, "invalid-address"),
        ({"mail": ""}, "skipped", None, "no-address"),
        ({}, "skipped", None, "no-address"),
        (None, "skipped", None, "unknown-recipient"),
    ],
)
def test_planned_deliveries_on_a_plain_or_dotted_address_field(
    field: str,
    contact: dict[str, Any] | None,
    status: str,
    address: str | None,
    code: str | None,
) -> None:
    fields = msgspec.structs.replace(CONFIG.user_fields, email_address=field)
    user = None if contact is None else {"contacts": contact} if "." in field else contact
    channels = [("email", EMAIL)]
    planned = DeliveryPlanner("d1", channels, fields).plan([("u1", user)], utcnow())
    [doc] = planned.docs
    assert (doc["_id"], doc["status"], doc["address"]) == ("d1:email:u1", status, address)
    assert doc.get("last_error", {}).get("code") == code
    assert planned.queued == {"email": ["d1:email:u1"] if status == "queued" else []}
    assert [f.user_id for f in planned.failures] == ([] if status == "queued" else ["u1"])
