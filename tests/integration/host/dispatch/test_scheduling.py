"""Scheduled sends (``sendAt``): stored, started on time by the workers' schedulers, cancellable until then.

The 3 s → [3 s, 8 s] windows are the feature's correctness bounds (never early, at most a few seconds
late), measured on the SMTP sink's arrival time against the time asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from host.dispatch.scheduling import Scheduler
from host.runtime.actors import event_loop_thread
from host.runtime.wiring import Runtime
from tests.support.stacks import Stack
from tests.support.waiting import eventually

ROME_WINTER = timezone(timedelta(hours=1))
LATE_BOUND = 8.0  # seconds after the request


def _send_at(seconds: float) -> tuple[float, str]:
    """A time ``seconds`` from now, as a timestamp and as ISO 8601 with a +01:00 offset."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.timestamp(), at.astimezone(ROME_WINTER).isoformat()


async def _user(stack: Stack, uid: str) -> str:
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    return address


def _body(uid: str, **extra: Any) -> dict[str, Any]:
    return {
        "channels": ["email"],
        "recipients": [uid],
        "messageTitle": "Later",
        "messageContent": "Hi",
        **extra,
    }


async def _arrival(stack: Stack, address: str, timeout: float) -> float:
    await eventually(
        lambda: stack.mails_to(address), timeout=timeout, interval=0.02, what=f"a mail to {address}"
    )
    [mail] = stack.mails_to(address)
    return mail.received_at


async def _state(stack: Stack, dispatch_id: str) -> str:
    doc = await stack.db["dispatches"].find_one({"_id": dispatch_id}, {"state": 1})
    assert doc is not None
    state: str = doc["state"]
    return state


async def _on_worker_loop(coroutine: Any) -> None:
    await asyncio.to_thread(event_loop_thread().run_coroutine, coroutine)


async def test_a_scheduled_send_is_stored_and_starts_on_time(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("later")
    address = await _user(stack, uid)
    requested = time.time()
    due, send_at = _send_at(3)
    result = await stack.send(_body(uid, sendAt=send_at))
    assert result["failures"] == [] and result["dispatchId"]
    assert abs(datetime.fromisoformat(result["sendAt"]).timestamp() - due) < 0.001
    view = (await stack.client.get(f"/dispatches/{result['dispatchId']}")).json()
    assert view["state"] == "scheduled" and view["total"] == 0 and view["settled"] is False
    assert abs(datetime.fromisoformat(view["sendAt"]).timestamp() - due) < 0.001
    arrived = await _arrival(stack, address, timeout=LATE_BOUND + 2)
    assert due <= arrived <= requested + LATE_BOUND, (arrived - requested, due - requested)
    view = await stack.wait_settled(result["dispatchId"])
    assert view["state"] == "expanded" and view["counts"] == {"email": {"sent": 1}}


async def test_a_scheduled_send_survives_a_restart_of_the_scheduler(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("restart")
    address = await _user(stack, uid)
    worker = stack.actors.worker_runtime()
    requested = time.time()
    due, send_at = _send_at(3)
    result = await stack.send(_body(uid, sendAt=send_at))
    replacement: Runtime | None = None
    try:
        # the worker reads it (one pass of its own scheduler, not due yet), then goes away with whatever
        # it had read; a new process (a new Runtime) takes over
        await _on_worker_loop(worker.scheduler.start_due())
        await _on_worker_loop(worker.scheduling.stop())
        replacement = stack.actors.new_runtime()
        # the new process finds it in the database, and leaves it alone until its time
        just_before = datetime.fromtimestamp(due, UTC) - timedelta(milliseconds=1)
        started, _ = await replacement.scheduler.start_due(just_before)
        assert result["dispatchId"] not in started
        assert await _state(stack, result["dispatchId"]) == "scheduled"
        replacement.scheduling.start()
        arrived = await _arrival(stack, address, timeout=LATE_BOUND + 2)
        assert due <= arrived <= requested + LATE_BOUND, (arrived - requested, due - requested)
        await stack.wait_settled(result["dispatchId"])
    finally:
        if replacement is not None:
            await replacement.close()

        async def restart() -> None:
            worker.scheduling.start()

        await _on_worker_loop(restart())


async def test_a_cancelled_send_is_never_sent(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("cancelled")
    address = await _user(stack, uid)
    due, send_at = _send_at(2)
    result = await stack.send(_body(uid, sendAt=send_at))
    cancelled = await stack.client.post(f"/dispatches/{result['dispatchId']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["settled"] is True
    again = await stack.client.post(f"/dispatches/{result['dispatchId']}/cancel")
    assert again.status_code == 200 and again.json()["state"] == "cancelled"
    # a scheduler pass past its time (plus a margin of three passes) does not start a cancelled send
    past_due = datetime.fromtimestamp(due, UTC) + timedelta(seconds=3.0)
    started, _ = await stack.runtime.scheduler.start_due(past_due)
    assert result["dispatchId"] not in started
    assert stack.mails_to(address) == []
    assert await stack.deliveries(result["dispatchId"]) == []
    assert await _state(stack, result["dispatchId"]) == "cancelled"


async def test_a_past_send_at_sends_now(stack: Stack, unique: Callable[[str], str]) -> None:
    uid, ghost = unique("past"), unique("ghost")
    address = await _user(stack, uid)
    _, send_at = _send_at(-3600)
    result = await stack.send(_body(uid, sendAt=send_at, recipients=[uid, ghost]))
    assert "sendAt" not in result
    assert [f["userId"] for f in result["failures"]] == [ghost]  # expanded in the request, as without it
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1, "skipped": 1}}
    assert len(stack.mails_to(address)) == 1


async def test_an_invalid_send_at_is_refused_naming_it(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("invalid")
    for value in ["tomorrow", "2026-11-27T21:00:00", "2026-11-27", "2026-13-01T00:00:00Z", 1764273600]:
        answer = await stack.client.post("/send", json=_body(uid, sendAt=value))
        assert answer.status_code == 400, (value, answer.text)
        body = answer.json()
        assert body["statusCode"] == "400" and body["error"] == "Bad request"
        assert "sendAt" in body["message"], body
    saga = await stack.client.post(
        "/saga/send",
        json={
            "key": unique("saga"),
            "value": {"messageLabel": "x", "messagePayload": _body(uid, sendAt="soon")},
        },
    )
    assert saga.status_code == 400 and "sendAt" in saga.json()["message"]


async def test_a_saga_send_can_be_scheduled(stack: Stack, unique: Callable[[str], str]) -> None:
    uid, key = unique("saga-later"), unique("saga")
    _, send_at = _send_at(3600)
    answer = await stack.client.post(
        "/saga/send",
        json={"key": key, "value": {"messageLabel": "x", "messagePayload": _body(uid, sendAt=send_at)}},
    )
    assert answer.status_code == 200, answer.text
    doc = await stack.db["dispatches"].find_one({"saga_id": key})
    assert doc is not None and doc["state"] == "scheduled"
    assert abs(doc["send_at"].timestamp() - datetime.fromisoformat(send_at).timestamp()) < 0.001
    assert (await stack.client.post(f"/dispatches/{doc['_id']}/cancel")).status_code == 200


async def test_cancelling_a_started_dispatch_is_a_conflict(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("started")
    address = await _user(stack, uid)
    _, send_at = _send_at(0.5)
    result = await stack.send(_body(uid, sendAt=send_at))
    await _arrival(stack, address, timeout=LATE_BOUND)
    answer = await stack.client.post(f"/dispatches/{result['dispatchId']}/cancel")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "Conflict" and "already started" in answer.json()["message"]
    now = await stack.send(_body(uid))  # never scheduled: started at once
    assert (await stack.client.post(f"/dispatches/{now['dispatchId']}/cancel")).status_code == 409
    missing = await stack.client.post(f"/dispatches/{unique('nope')}/cancel")
    assert missing.status_code == 404 and missing.json()["statusCode"] == "404"


async def test_racing_schedulers_start_each_dispatch_once(stack: Stack, unique: Callable[[str], str]) -> None:
    uids = [unique(f"race{i}") for i in range(12)]
    for uid in uids:
        await _user(stack, uid)
    _, send_at = _send_at(1800)  # far enough that the worker's own scheduler leaves them alone
    ids = [(await stack.send(_body(uid, sendAt=send_at)))["dispatchId"] for uid in uids]
    handed: list[str] = []

    def expand(dispatch_id: str) -> None:
        handed.append(dispatch_id)
        stack.actors.schedule_expansion(dispatch_id)

    schedulers = [Scheduler(stack.runtime.store, expand) for _ in range(3)]
    later = datetime.now(UTC) + timedelta(hours=1)
    outcomes = await asyncio.gather(*(s.start_due(later) for s in schedulers))
    started = [dispatch_id for ids_started, _ in outcomes for dispatch_id in ids_started]
    assert sorted(started) == sorted(handed)
    assert set(ids) <= set(started)
    assert len([i for i in started if i in ids]) == len(ids)  # none started twice
    for dispatch_id in ids:
        assert (await stack.wait_settled(dispatch_id))["counts"] == {"email": {"sent": 1}}
