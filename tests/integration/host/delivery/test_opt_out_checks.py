"""The send-time checks: an opt-out or a suppression recorded after the fan-out still wins when the worker
sends."""

from __future__ import annotations

from collections.abc import Callable

from host.storage.documents import utcnow
from tests.support.opt_outs import mail_user
from tests.support.stacks import Stack


async def test_an_opt_out_recorded_after_the_fan_out_still_wins_at_send_time(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await mail_user(stack, unique)
    now = utcnow()
    ids = {}
    for category in (None, "transactional"):
        dispatch_id = unique(f"dispatch-{category or 'standard'}")
        await stack.db["dispatches"].insert_one(
            {
                "_id": dispatch_id,
                "channels": ["email"],
                "recipients": [uid],
                "clusters": [],
                "title": "Planned before",
                "content": "the opt-out",
                "category": category,
                "state": "expanded",
                "created_at": now,
            }
        )
        delivery_id = f"{dispatch_id}:email:{uid}"
        await stack.db["deliveries"].insert_one(
            {
                "_id": delivery_id,
                "dispatch_id": dispatch_id,
                "channel": "email",
                "user_id": uid,
                "address": address,
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        ids[category] = delivery_id
    assert (await stack.client.put(f"/users/{uid}/opt-outs/email")).status_code == 200

    await stack.runtime.delivery.deliver("email", list(ids.values()))  # the worker, on the test loop

    skipped = await stack.db["deliveries"].find_one({"_id": ids[None]})
    assert skipped["status"] == "skipped" and skipped["last_error"]["code"] == "opted-out"
    attempt = await stack.db["attempts"].find_one({"_id": f"{ids[None]}:1"})
    assert attempt["outcome"] == "skipped"
    sent = await stack.db["deliveries"].find_one({"_id": ids["transactional"]})
    assert sent["status"] == "sent"
    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Planned before"
    assert mail.message["List-Unsubscribe"] is None


async def test_a_suppression_recorded_after_the_fan_out_still_wins_at_send_time(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await mail_user(stack, unique)
    ids = {}
    for category in (None, "transactional"):
        dispatch_id = unique(f"late-{category}")
        await stack.db["dispatches"].insert_one(
            {
                "_id": dispatch_id,
                "channels": ["email"],
                "recipients": [uid],
                "clusters": [],
                "title": "Planned before",
                "content": "the bounce",
                "category": category,
                "state": "expanded",
                "created_at": utcnow(),
            }
        )
        ids[category] = f"{dispatch_id}:email:{uid}"
        await stack.db["deliveries"].insert_one(
            {
                "_id": ids[category],
                "dispatch_id": dispatch_id,
                "channel": "email",
                "user_id": uid,
                "address": address.upper(),  # suppressions ignore case
                "status": "queued",
                "attempts": 0,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
        )
    await stack.runtime.suppressions.add(address, "complaint", {"source": "mailgun"})

    await stack.runtime.delivery.deliver("email", list(ids.values()))  # the worker, on the test loop

    skipped = await stack.db["deliveries"].find_one({"_id": ids[None]})
    assert skipped["status"] == "skipped" and skipped["last_error"]["code"] == "suppressed"
    assert skipped["last_error"]["message"] == "the address is suppressed (complaint)"
    assert (await stack.db["deliveries"].find_one({"_id": ids["transactional"]}))["status"] == "sent"
