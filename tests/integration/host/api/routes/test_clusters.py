"""The cluster API: CRUD with member counts, and the paginated members of a cluster."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.api import assert_error
from tests.support.stacks import Stack


async def test_create_read_list_update_delete(stack: Stack, unique: Callable[[str], str]) -> None:
    name = unique("vip")
    await stack.add_users(
        {"fiscalCode": unique("a"), "groups": [name, "other"]},
        {"fiscalCode": unique("b"), "groups": [name]},
        {"fiscalCode": unique("c"), "groups": ["other"]},
    )
    created = await stack.client.post("/clusters", json={"name": name, "description": "Best customers"})
    assert created.status_code == 201, created.text
    assert created.json()["members"] == 2
    assert created.json()["description"] == "Best customers"

    view = (await stack.client.get(f"/clusters/{name}")).json()
    assert (view["name"], view["members"]) == (name, 2)

    listed = (await stack.client.get("/clusters", params={"name": name})).json()
    assert [(c["name"], c["members"]) for c in listed["items"]] == [(name, 2)]

    updated = await stack.client.put(f"/clusters/{name}", json={"description": "Changed"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "Changed"
    assert (await stack.client.get(f"/clusters/{name}")).json()["description"] == "Changed"

    assert (await stack.client.delete(f"/clusters/{name}")).status_code == 204
    assert_error(await stack.client.get(f"/clusters/{name}"), 404, name)
    # membership lives on the users: they keep the name
    assert await stack.db["users"].count_documents({"groups": name}) == 2


async def test_errors_have_the_api_shape(stack: Stack, unique: Callable[[str], str]) -> None:
    name = unique("dup")
    assert (await stack.client.post("/clusters", json={"name": name})).status_code == 201
    assert_error(await stack.client.post("/clusters", json={"name": name}), 409, name)
    assert_error(await stack.client.post("/clusters", json={"name": ""}), 400, "name")
    assert_error(await stack.client.post("/clusters", json={"description": "x"}), 400, "name")
    assert_error(await stack.client.put(f"/clusters/{name}", json={"name": "renamed"}), 400, "name")
    assert_error(await stack.client.put(f"/clusters/{unique('ghost')}", json={}), 404, "ghost")
    assert_error(await stack.client.delete(f"/clusters/{unique('ghost')}"), 404, "ghost")


async def test_members_are_paginated(stack: Stack, unique: Callable[[str], str]) -> None:
    name = unique("team")
    ids = [f"{unique('member')}-{n:02}" for n in range(7)]
    await stack.add_users(*({"fiscalCode": uid, "groups": [name], "mail": f"{uid}@x.org"} for uid in ids))
    await stack.add_users({"fiscalCode": unique("outsider"), "groups": ["else"]})
    seen: list[str] = []
    after = None
    for _ in range(10):
        params = {"limit": "3", **({"after": after} if after else {})}
        response = await stack.client.get(f"/clusters/{name}/members", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [user["fiscalCode"] for user in page["items"]]
        assert all("_id" not in user for user in page["items"])
        after = page["nextAfter"]
        if after is None:
            break
    assert sorted(seen) == ids
    bad = await stack.client.get(f"/clusters/{name}/members", params={"after": "nonsense"})
    assert_error(bad, 400, "after")
