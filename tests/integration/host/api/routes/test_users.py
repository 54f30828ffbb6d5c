"""The user API: read by the mapped id, filtered lists, create/replace and delete; extra fields kept."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.api import assert_error
from tests.support.stacks import Stack


async def test_put_creates_then_replaces_keeping_extra_fields(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("user")
    body = {"mail": f"{uid}@x.org", "groups": ["a"], "name": "Ada", "prefs": {"lang": "it"}}
    created = await stack.client.put(f"/users/{uid}", json=body)
    assert created.status_code == 201, created.text
    assert created.json() == {**body, "fiscalCode": uid}

    replaced = await stack.client.put(f"/users/{uid}", json={"fiscalCode": uid, "name": "Ada L."})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"fiscalCode": uid, "name": "Ada L."}
    assert await stack.db["users"].count_documents({"fiscalCode": uid}) == 1

    fetched = await stack.client.get(f"/users/{uid}")
    assert fetched.json() == {"fiscalCode": uid, "name": "Ada L."}

    assert (await stack.client.delete(f"/users/{uid}")).status_code == 204
    assert_error(await stack.client.get(f"/users/{uid}"), 404, uid)
    assert_error(await stack.client.delete(f"/users/{uid}"), 404, uid)


async def test_put_refuses_bad_users(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("bad")
    assert_error(await stack.client.put(f"/users/{uid}", json={"fiscalCode": "other"}), 400, "fiscalCode")
    assert_error(await stack.client.put(f"/users/{uid}", json={"groups": "a"}), 400, "groups")
    assert_error(await stack.client.put(f"/users/{uid}", json={"groups": [1]}), 400, "groups")
    assert_error(await stack.client.put(f"/users/{uid}", json=["not", "an", "object"]), 400, "")
    # BSON holds 64-bit integers: a bigger one is the client's to fix, not a 500 (found by the fuzzer)
    too_big = await stack.client.put(f"/users/{uid}", json={"visits": 2**70})
    assert_error(too_big, 400, "body: cannot be stored: integers must fit in 64 bits")
    assert await stack.db["users"].count_documents({"fiscalCode": uid}) == 0


async def test_list_filters_combine_and_paginate(stack: Stack, unique: Callable[[str], str]) -> None:
    prefix = unique("list")
    group = unique("g")
    users = [
        {
            "fiscalCode": f"{prefix}-{n}",
            "mail": f"{prefix}-{n}@x.org",
            "phoneNumber": f"+3900{n}",
            "groups": [group] if n % 2 else [],
        }
        for n in range(6)
    ]
    await stack.add_users(*users)

    async def ids(**params: str) -> list[str]:
        found: list[str] = []
        after = None
        for _ in range(20):
            query = {**params, "limit": "2", **({"after": after} if after else {})}
            response = await stack.client.get("/users", params=query)
            assert response.status_code == 200, response.text
            found += [user["fiscalCode"] for user in response.json()["items"]]
            after = response.json()["nextAfter"]
            if after is None:
                return found
        raise AssertionError("pagination did not end")

    assert await ids(idPrefix=prefix) == [u["fiscalCode"] for u in users]
    assert await ids(cluster=group) == [f"{prefix}-{n}" for n in (1, 3, 5)]
    assert await ids(email=f"{prefix}-2@x.org") == [f"{prefix}-2"]
    assert await ids(phone="+39003", cluster=group) == [f"{prefix}-3"]
    assert await ids(phone="+39002", cluster=group) == []
    assert_error(await stack.client.get("/users", params={"limit": "5000"}), 400, "limit")
