"""The console's event page: each delivery event with its status per endpoint, and a replay (with CSRF)."""

from __future__ import annotations

from collections.abc import Callable

from litestar.testing import AsyncTestClient

from tests.fakes.webhook import WebhookReceiver
from tests.support.events import of_dispatch
from tests.support.stacks import Stack
from tests.support.waiting import eventually


async def test_an_editor_sees_events_per_endpoint_and_replays_one(
    events_stack: Stack, receiver: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    from host.api.app import create_app
    from tests.support.console import add_staff, logged_in

    fields = events_stack.fields
    uid = unique("console-user")
    await events_stack.add_users({fields.id: uid, fields.email_address: f"{uid}@example.test"})
    accepted = await events_stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "t", "messageContent": "c"}
    )
    dispatch_id = accepted["dispatchId"]
    await eventually(
        lambda: len(of_dispatch(receiver.accepted(), dispatch_id)) >= 2, timeout=20, what="two events"
    )
    event_id = f"{dispatch_id}:email:{uid}:sent"
    async with AsyncTestClient(create_app(events_stack.actors), base_url="https://127.0.0.1") as console:
        token = await logged_in(
            console, await add_staff(events_stack, f"{unique('ed')}@example.test", "editor")
        )
        listing = await console.get("/console/events")
        assert listing.status_code == 200 and event_id in listing.text and "delivered" in listing.text
        refused = await console.post(f"/console/events/{event_id}/replay")  # no CSRF token
        assert refused.status_code == 403
        before = len(receiver.accepted())
        replayed = await console.post(
            f"/console/events/{event_id}/replay", headers={"X-CSRF-Token": token, "HX-Request": "true"}
        )
        assert replayed.status_code == 200 and event_id in replayed.text
    await eventually(lambda: len(receiver.accepted()) > before, timeout=20, what="the replayed event")
    assert receiver.accepted()[-1].body["id"] == event_id
