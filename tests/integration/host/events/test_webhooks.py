"""Delivery events: signed webhook posts, each once per endpoint, retried, and replayed on request."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta

from host.events.webhooks import WebhookPoster, verify_signature
from host.storage.documents import utcnow
from tests.fakes.webhook import WebhookPost, WebhookReceiver
from tests.support.events import SECRET, of_dispatch
from tests.support.stacks import Stack
from tests.support.waiting import eventually


def signature_ok(post: WebhookPost) -> bool:
    """The receiver's check, written from the README's description (not Tidings' own helper)."""
    header = post.headers["tidings-signature"]
    fields = dict(item.split("=", 1) for item in header.split(","))
    raw = post.raw
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + raw, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= 300
    return (
        fresh
        and hmac.compare_digest(expected, fields["v1"])
        and verify_signature(SECRET.encode(), header, raw)
    )


async def test_every_event_arrives_once_signed_and_a_500_is_retried(
    events_stack: Stack, receiver: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    fields = events_stack.fields
    users = [unique(f"u{i}") for i in range(2)]
    await events_stack.add_users(
        *({fields.id: uid, fields.email_address: f"{uid}@example.test"} for uid in users)
    )
    receiver.script([500])  # the first post is refused: it must come again
    accepted = await events_stack.send(
        {
            "channels": ["email"],
            "recipients": [*users, unique("nobody")],
            "messageTitle": "Hello",
            "messageContent": "Events",
        }
    )
    dispatch_id = accepted["dispatchId"]

    await eventually(
        lambda: len(of_dispatch(receiver.accepted(), dispatch_id)) >= 4, timeout=20, what="four events"
    )
    events = events_stack.runtime.events

    async def entries_left() -> list[str]:
        queued = await events.queue.find({}, {"_id": 1}).to_list(None)
        return [entry["_id"] for entry in queued if str(entry["_id"]).startswith(dispatch_id)]

    # the worker's poster writes each answer down after it; then no pass, however late (every lease and
    # retry run out), finds anything of this dispatch due: nothing can be posted twice
    await eventually(entries_left, until=lambda left: not left, timeout=20, what="the posts written down")
    poster = WebhookPoster(events)
    try:
        await poster.run_once(now=utcnow() + timedelta(hours=1))
    finally:
        await poster.close()
    posts = of_dispatch(receiver.posts, dispatch_id)
    ok = of_dispatch(receiver.accepted(), dispatch_id)
    types = sorted(p.body["type"] for p in ok)
    assert types == ["delivery.sent", "delivery.sent", "delivery.skipped", "dispatch.completed"]
    ids = [p.body["id"] for p in ok]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert all(signature_ok(p) for p in posts)
    refused = [p for p in posts if p.status == 500]
    assert len(refused) == 1 and refused[0].body["id"] in ids  # retried, then accepted
    done = next(p.body for p in ok if p.body["type"] == "dispatch.completed")
    assert done["data"]["id"] == dispatch_id and done["data"]["total"] == 3 and done["data"]["settled"]
    sent = next(p.body for p in ok if p.body["type"] == "delivery.sent")
    assert sent["data"]["dispatchId"] == dispatch_id and sent["data"]["status"] == "sent"
    record = await events_stack.db["webhook_deliveries"].find_one({"_id": f"{refused[0].body['id']}:0"})
    assert record is not None and record["status"] == "delivered" and record["attempts"] == 2

    # replay (what the console's button does) posts the event once more
    before = len(receiver.accepted())
    assert await events_stack.runtime.events.replay(done["id"]) == 1
    await eventually(lambda: len(receiver.accepted()) > before, timeout=20, what="the replayed event")
    assert receiver.accepted()[-1].body["id"] == done["id"]
