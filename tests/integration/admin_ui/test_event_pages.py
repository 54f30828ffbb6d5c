"""The console's event page: each delivery event with its status per endpoint, and a replay (with CSRF);
a webhook URL's credentials never shown."""

from __future__ import annotations

from collections.abc import Callable

from litestar.testing import AsyncTestClient

from host.api.app import create_app
from host.storage.documents import utcnow
from tests.fakes.webhook import WebhookReceiver
from tests.support.console import add_staff, logged_in
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


PASSWORD, TOKEN = "HOOKPASS-5f1e", "TOKVALUE-77a2"  # a webhook URL's credentials


async def test_the_events_page_shows_no_credential_of_a_url(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    event = {"_id": unique("evt"), "type": "dispatch.completed", "created_at": utcnow(), "data": {"id": "d"}}
    url = f"https://hookuser:{PASSWORD}@hooks.example.test/in?token={TOKEN}"
    await stack.db["events"].insert_one(event)
    await stack.db["webhook_deliveries"].insert_one(  # as a record written before URLs were redacted
        {"_id": f"{event['_id']}:0", "event_id": event["_id"], "endpoint": 0, "url": url, "status": "failed",
         "attempts": 8, "last_error": f"ConnectError: cannot reach {url}", "created_at": utcnow()}
    )  # fmt: skip
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        await logged_in(console, await add_staff(stack, f"{unique('ed')}@example.test", "editor"))
        page = await console.get("/console/events")
    assert page.status_code == 200 and event["_id"] in page.text
    assert "https://***@hooks.example.test/in?token=***" in page.text
    assert PASSWORD not in page.text and TOKEN not in page.text
