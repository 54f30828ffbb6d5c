"""CRUD soft-deletes: users whose ``__STATE__`` is not PUBLIC are never messaged; those without one are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from host.storage.documents import utcnow
from tests.support.stacks import Stack


def user(uid: str, state: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []}
    if state is not None:
        doc["__STATE__"] = state
    return doc


async def test_listed_users_who_are_not_public_fail_as_such_and_get_nothing(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    public, trashed, plain, draft = (unique(n) for n in ("public", "trashed", "plain", "draft"))
    await stack.add_users(
        user(public, "PUBLIC"), user(trashed, "TRASH"), user(plain, None), user(draft, "DRAFT")
    )
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [public, trashed, plain, draft],
            "messageTitle": "t",
            "messageContent": "c",
        }
    )
    assert {(f["userId"], f["error"]) for f in result["failures"]} == {
        (trashed, "user is not PUBLIC (__STATE__ is 'TRASH'): only PUBLIC users are messaged"),
        (draft, "user is not PUBLIC (__STATE__ is 'DRAFT'): only PUBLIC users are messaged"),
    }
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 2, "skipped": 2}}
    assert len(stack.mails_to(f"{public}@example.org")) == 1
    assert len(stack.mails_to(f"{plain}@example.org")) == 1
    assert stack.mails_to(f"{trashed}@example.org") == [] and stack.mails_to(f"{draft}@example.org") == []
    deliveries = await stack.deliveries(result["dispatchId"])
    codes = {d["userId"]: (d.get("lastError") or {}).get("code") for d in deliveries}
    assert codes[trashed] == codes[draft] == "not-public"


async def test_soft_deleted_members_of_a_cluster_are_not_its_members(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("crud-group")
    live, gone = unique("live"), unique("gone")
    await stack.add_users(
        {**user(live, "PUBLIC"), "groups": [group]}, {**user(gone, "DELETED"), "groups": [group]}
    )
    result = await stack.send(
        {"channels": ["email"], "clusters": [group], "messageTitle": "t", "messageContent": "c"}
    )
    assert result["failures"] == []  # Mia's CRUD lists only PUBLIC members: the others are not there
    await stack.wait_settled(result["dispatchId"])
    assert [d["userId"] for d in await stack.deliveries(result["dispatchId"])] == [live]


async def test_a_user_soft_deleted_after_the_fan_out_is_skipped_when_sending(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("late-trash")
    await stack.add_users(user(uid, "PUBLIC"))
    now, dispatch_id = utcnow(), unique("dispatch-state")
    await stack.db["dispatches"].insert_one(
        {
            "_id": dispatch_id,
            "channels": ["email"],
            "recipients": [uid],
            "clusters": [],
            "title": "Planned while",
            "content": "the user was public",
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
            "address": f"{uid}@example.org",
            "status": "queued",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
    )
    await stack.db["users"].update_one({"fiscalCode": uid}, {"$set": {"__STATE__": "TRASH"}})

    await stack.runtime.delivery.deliver("email", [delivery_id])  # the worker, on the test loop

    delivery = await stack.db["deliveries"].find_one({"_id": delivery_id})
    assert delivery is not None
    assert (delivery["status"], delivery["last_error"]["code"]) == ("skipped", "not-public")
    assert stack.mails_to(f"{uid}@example.org") == []
