"""The suppression service: search and reasons, what stops transactional mail, and the fan-out's shortcut
while the list is empty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from host.audience.suppressions import EMPTY_FOR_SECONDS, Suppressions
from host.storage.store import Store
from tests.support.feedback import by_user, people
from tests.support.stacks import Stack


@asynccontextmanager
async def own_suppressions(
    stack: Stack, database: str, clock: Callable[[], float]
) -> AsyncIterator[tuple[Store, Suppressions]]:
    """Suppressions in a database of the test's own (the list starts empty), dropped afterwards."""
    store = Store(stack.runtime.store.client, stack.settings)
    store.db = store.client[database.replace("-", "_")]
    try:
        yield store, Suppressions(store, clock=clock)
    finally:
        await store.client.drop_database(store.db.name)


async def test_the_fan_out_looks_again_once_an_empty_list_may_have_changed(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    now = [1000.0]
    async with own_suppressions(stack, unique("suppressions_empty"), lambda: now[0]) as (store, suppressions):
        lookup = suppressions.lookup(None)
        assert await lookup(["a@example.org"]) == {}
        # another process suppresses the address: this one believes the list empty for a few seconds ...
        await store.db["suppressions"].insert_one({"_id": "a@example.org", "reasons": ["hard-bounce"]})
        now[0] += EMPTY_FOR_SECONDS / 2
        assert await lookup(["a@example.org"]) == {}
        assert await suppressions.find(["a@example.org"]) == {"a@example.org": ["hard-bounce"]}  # send time
        # ... then looks again, and from then on every batch is checked
        now[0] += EMPTY_FOR_SECONDS
        assert await lookup(["A@Example.org", "b@example.org"]) == {"a@example.org": ["hard-bounce"]}


async def test_one_recorded_here_is_seen_at_once_and_reasons_accumulate(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    async with own_suppressions(stack, unique("suppressions_here"), lambda: 0.0) as (_, suppressions):
        assert await suppressions.lookup(None)(["c@example.org"]) == {}
        await suppressions.add("C@example.org", "complaint", {"source": "smtp"})
        await suppressions.add("c@example.org", "hard-bounce", {"source": "ses", "status": "5.1.1"})
        assert await suppressions.lookup(None)(["c@example.org"]) == {
            "c@example.org": ["complaint", "hard-bounce"]
        }
        assert await suppressions.lookup("transactional")(["c@example.org"]) == {
            "c@example.org": ["hard-bounce"]
        }
        doc = await suppressions.get("c@example.org")
        assert doc is not None and doc["details"]["hard-bounce"]["status"] == "5.1.1"
        assert [d["_id"] for d in await suppressions.search("EXAMPLE", "complaint")] == ["c@example.org"]
        assert await suppressions.count_by_reason() == {"hard-bounce": 1, "soft-bounces": 0, "complaint": 1}
        assert await suppressions.remove("c@example.org") and not await suppressions.remove("c@example.org")


async def test_transactional_mail_is_suppressed_for_hard_bounces_but_not_for_complaints(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    who = await people(stack, unique, "gone", "complainer", "tired")
    await stack.runtime.suppressions.add(who["gone"][1], "hard-bounce", {"source": "smtp"})
    await stack.runtime.suppressions.add(who["complainer"][1], "complaint", {"source": "ses"})
    await stack.runtime.suppressions.add(who["tired"][1], "soft-bounces", {"source": "smtp"})
    created = await stack.client.post(
        "/templates",
        json={
            "name": unique("reset"),
            "category": "transactional",
            "emailTitle": "Reset",
            "emailMessage": "Go",
        },
    )
    assert created.status_code == 201, created.text
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid for uid, _ in who.values()],
            "templateId": created.json()["id"],
        }
    )
    assert {f["userId"]: f["error"] for f in result["failures"]} == {
        who["gone"][0]: "the address is suppressed (hard-bounce)",
        who["tired"][0]: "the address is suppressed (soft-bounces)",
    }
    await stack.wait_settled(result["dispatchId"])
    assert (await by_user(stack, result["dispatchId"]))[who["complainer"][0]]["status"] == "sent"


async def test_many_lookups_at_once_keep_each_its_category(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    async with own_suppressions(stack, unique("suppressions_many"), lambda: 0.0) as (_, suppressions):
        assert await suppressions.lookup_many([(None, ["d@example.org"]), (None, [])]) == [{}, {}]
        await suppressions.add("d@example.org", "complaint", {"source": "ses"})
        await suppressions.add("e@example.org", "hard-bounce", {"source": "smtp"})
        found = await suppressions.lookup_many(
            [
                (None, ["D@example.org", "x@example.org"]),
                ("transactional", ["d@example.org", "e@example.org"]),
                (None, []),
            ]
        )
        assert found == [{"d@example.org": ["complaint"]}, {"e@example.org": ["hard-bounce"]}, {}]


async def test_concurrent_sends_of_two_categories_are_each_suppressed_as_theirs(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    who = await people(stack, unique, "complains")
    user_id, address = who["complains"]
    await stack.runtime.suppressions.add(address, "complaint", {"source": "ses"})
    created = await stack.client.post(
        "/templates",
        json={"name": unique("receipt"), "category": "transactional", "emailTitle": "R", "emailMessage": "P"},
    )
    assert created.status_code == 201, created.text
    # sent together, so grouped into one job of listed sends when they meet (host.dispatch.writes)
    to_them = {"channels": ["email"], "recipients": [user_id]}
    transactional, newsletter = await asyncio.gather(
        stack.send({**to_them, "templateId": created.json()["id"]}),
        stack.send({**to_them, "messageTitle": "N", "messageContent": "News"}),
    )
    assert transactional["failures"] == []
    assert newsletter["failures"] == [
        {"userId": user_id, "channel": "email", "error": "the address is suppressed (complaint)"}
    ]
