"""The suppression API: addresses listed by search and reason, one shown with why, one removed."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.opt_outs import hello
from tests.support.stacks import Stack


async def test_suppressions_are_searched_shown_and_removed(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("gone")
    gone = f"{uid}@example.org"
    angry = f"{unique('angry')}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": gone, "groups": []})
    detail = {
        "source": "smtp",
        "status": "5.1.1",
        "detail": "550 5.1.1 user unknown",
        "delivery_id": "d:email:u",
    }
    await stack.runtime.suppressions.add(gone.upper(), "hard-bounce", detail)  # kept in lowercase
    await stack.runtime.suppressions.add(angry, "complaint", {"source": "ses"})

    listed = await stack.client.get("/suppressions", params={"search": unique("")})
    assert listed.status_code == 200, listed.text
    assert [item["address"] for item in listed.json()["items"]] == sorted([gone, angry])
    first = (await stack.client.get("/suppressions", params={"search": unique(""), "limit": 1})).json()
    assert [item["address"] for item in first["items"]] == [min(gone, angry)] and first["nextAfter"]
    rest = await stack.client.get(
        "/suppressions", params={"search": unique(""), "limit": 1, "after": first["nextAfter"]}
    )
    assert [item["address"] for item in rest.json()["items"]] == [max(gone, angry)]
    complaints = await stack.client.get("/suppressions", params={"search": unique(""), "reason": "complaint"})
    assert [item["address"] for item in complaints.json()["items"]] == [angry]
    wrong = await stack.client.get("/suppressions", params={"reason": "bounced"})
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("reason: must be one of")

    shown = await stack.client.get(f"/suppressions/{gone.upper()}")
    assert shown.status_code == 200, shown.text
    [why] = shown.json()["reasons"]
    assert (why["reason"], why["source"], why["status"], why["deliveryId"]) == (
        "hard-bounce",
        "smtp",
        "5.1.1",
        "d:email:u",
    )
    missing = await stack.client.get(f"/suppressions/{unique('nobody')}@example.org")
    assert missing.status_code == 404 and "is not suppressed" in missing.json()["message"]

    skipped = await stack.send(hello(uid))
    assert skipped["failures"] == [
        {"userId": uid, "channel": "email", "error": "the address is suppressed (hard-bounce)"}
    ]
    assert (await stack.client.delete(f"/suppressions/{gone}")).status_code == 204
    assert (await stack.client.delete(f"/suppressions/{gone}")).status_code == 404
    again = await stack.send(hello(uid))
    assert again["failures"] == []
    view = await stack.wait_settled(again["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}
