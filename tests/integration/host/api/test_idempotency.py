"""Idempotency-Key on /send and /saga/send: a repeat gets the first answer and sends nothing again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from host.api.app import create_app
from tests.support.live_app import serve_app
from tests.support.stacks import Stack


def _body(uid: str, content: str = "Hello") -> dict[str, Any]:
    return {"channels": ["email"], "recipients": [uid], "messageTitle": "Hi", "messageContent": content}


async def test_same_key_and_body_replays_the_first_answer_and_sends_once(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("idem")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    headers = {"Idempotency-Key": unique("key")}

    first = await stack.client.post("/send", json=_body(uid), headers=headers)
    again = await stack.client.post("/send", json=_body(uid), headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    await stack.wait_settled(first.json()["dispatchId"])
    assert len(stack.mails_to(address)) == 1
    dispatches = await stack.db["dispatches"].count_documents({"recipients": uid})
    assert dispatches == 1


async def test_same_key_with_another_body_is_a_conflict(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("idem-conflict")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []})
    headers = {"Idempotency-Key": unique("key")}
    assert (await stack.client.post("/send", json=_body(uid), headers=headers)).status_code == 200

    other = await stack.client.post("/send", json=_body(uid, "Another text"), headers=headers)

    assert other.status_code == 409
    assert other.json() == {
        "statusCode": "409",
        "error": "Conflict",
        "message": other.json()["message"],
    }
    assert "another request body" in other.json()["message"]


async def test_a_refused_request_does_not_keep_its_key(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("idem-retry")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []})
    headers = {"Idempotency-Key": unique("key")}
    bad = await stack.client.post("/send", json={**_body(uid), "channels": []}, headers=headers)
    assert bad.status_code == 400

    fixed = await stack.client.post("/send", json=_body(uid), headers=headers)

    assert fixed.status_code == 200
    assert "idempotent-replayed" not in fixed.headers


async def test_saga_send_replays_without_a_second_dispatch(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("idem-saga")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    command = {"key": unique("saga"), "value": {"messageLabel": "send", "messagePayload": _body(uid)}}
    headers = {"Idempotency-Key": unique("key")}

    first = await stack.client.post("/saga/send", json=command, headers=headers)
    again = await stack.client.post("/saga/send", json=command, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    [dispatch] = await stack.db["dispatches"].find({"recipients": uid}).to_list(None)
    await stack.wait_settled(dispatch["_id"])
    assert len(stack.mails_to(address)) == 1


async def test_concurrent_requests_with_one_key_make_one_dispatch(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    """Eight requests with the same key and body at once, over real HTTP to a server that runs them
    side by side: one dispatch, one mail, every 200 the same answer, the others 409 (still running)."""
    uid = unique("idem-race")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    headers = {"Idempotency-Key": unique("key")}
    with serve_app(create_app(stack.actors)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            answers = await asyncio.gather(
                *(client.post("/send", json=_body(uid), headers=headers) for _ in range(8))
            )
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 409}, [answer.text for answer in answers]
    ok = [answer.json() for answer in answers if answer.status_code == 200]
    assert ok and all(body == ok[0] for body in ok), ok
    for answer in answers:
        if answer.status_code == 409:
            assert "still running" in answer.json()["message"]
    dispatches = await stack.db["dispatches"].find({"recipients": uid}).to_list(None)
    assert [d["_id"] for d in dispatches] == [ok[0]["dispatchId"]]
    await stack.wait_settled(ok[0]["dispatchId"])
    assert len(stack.mails_to(address)) == 1
