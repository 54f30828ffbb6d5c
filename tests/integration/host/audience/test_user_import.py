"""POST /users/bulk: streamed NDJSON or JSON-array upserts, bad records reported by line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.api import assert_error
from tests.support.stacks import Stack

NDJSON = {"content-type": "application/x-ndjson"}


def ndjson_body(lines: list[bytes]) -> bytes:
    # Litestar's test transport hands the body over in one piece: splitting chunks at any byte is
    # tested in tests/unit/host/audience/test_user_records.py, streaming over a socket by bench/users_bulk.py
    return b"".join(lines)


async def test_ndjson_stream_of_5000_users_with_bad_lines(stack: Stack, unique: Callable[[str], str]) -> None:
    prefix = unique("bulk")
    group = unique("bulkgroup")
    lines = [
        json.dumps({"fiscalCode": f"{prefix}-{n}", "mail": f"{n}@x.org", "groups": [group], "n": n}).encode()
        + b"\n"
        for n in range(5000)
    ]
    lines[10] = b'{"mail": "no-id@x.org"}\n'
    lines[20] = b"{not json\n"
    lines[30] = b"\n"  # blank lines are skipped, and still counted
    lines[40] = json.dumps({"fiscalCode": f"{prefix}-40", "groups": "one"}).encode() + b"\n"
    response = await stack.client.post("/users/bulk", content=ndjson_body(lines), headers=NDJSON)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["upserted"] == 4996
    assert result["modified"] == 0
    assert result["failed"] == 3
    errors = {error["line"]: error["message"] for error in result["errors"]}
    assert set(errors) == {11, 21, 41}
    assert "fiscalCode: missing" in errors[11]
    assert "invalid JSON" in errors[21]
    assert "groups" in errors[41]
    assert await stack.db["users"].count_documents({"groups": group}) == 4996
    stored = await stack.db["users"].find_one({"fiscalCode": f"{prefix}-4999"})
    assert stored["n"] == 4999

    # the first 100 ids again, one changed: replaced, not duplicated; the 4 refused the first time are new
    again = [
        json.dumps({"fiscalCode": f"{prefix}-{n}", "mail": f"{n}@x.org", "groups": [group], "n": n}).encode()
        + b"\n"
        for n in range(100)
    ]
    again[5] = json.dumps({"fiscalCode": f"{prefix}-5", "groups": [group], "n": "changed"}).encode() + b"\n"
    response = await stack.client.post("/users/bulk", content=ndjson_body(again), headers=NDJSON)
    assert response.json() == {"upserted": 4, "modified": 1, "matched": 96, "failed": 0, "errors": []}
    assert await stack.db["users"].count_documents({"fiscalCode": {"$regex": f"^{prefix}-"}}) == 5000
    assert (await stack.db["users"].find_one({"fiscalCode": f"{prefix}-5"}))["n"] == "changed"


async def test_json_array_form(stack: Stack, unique: Callable[[str], str]) -> None:
    prefix = unique("array")
    users: list[Any] = [
        {"fiscalCode": f"{prefix}-{n}", "note": 'tricky ",]}[{ \\" text'} for n in range(1200)
    ]
    users[3] = {"note": "no id"}
    users[4] = "not an object"
    body = json.dumps(users, indent=1).encode()

    response = await stack.client.post(
        "/users/bulk", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["upserted"], result["failed"]) == (1198, 2)
    assert [e["line"] for e in result["errors"]] == [4, 5]
    stored = await stack.db["users"].find_one({"fiscalCode": f"{prefix}-1199"})
    assert stored["note"] == 'tricky ",]}[{ \\" text'


async def test_whole_body_errors(stack: Stack, unique: Callable[[str], str]) -> None:
    assert_error(
        await stack.client.post("/users/bulk", content=b"a,b\n", headers={"content-type": "text/csv"}),
        415,
        "content-type",
    )
    not_array = await stack.client.post(
        "/users/bulk", content=b'{"fiscalCode": "x"}', headers={"content-type": "application/json"}
    )
    assert_error(not_array, 400, "not a JSON array")
    assert_error(
        await stack.client.post("/users/bulk", content=b"", headers={"content-type": "application/json"}),
        400,
        "empty",
    )
    # a truncated array keeps what came before, and says where it stopped
    uid = unique("trunc")
    truncated = json.dumps([{"fiscalCode": uid}]).encode()[:-1] + b', {"fiscalCode": "x"'
    response = await stack.client.post(
        "/users/bulk", content=truncated, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["upserted"] == 1
    assert response.json()["errors"] == [{"line": 2, "message": "the JSON array is not closed"}]
