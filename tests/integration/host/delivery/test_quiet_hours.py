"""Quiet hours at send time: a delivery due inside its user's window waits in the database for the window's
end, shows as ``deferred`` (API and console), is released then in its lane and sent; ``high`` ignores it.

The window is set around the real time (so ``deferred`` is what the counts show now), and the worker, the
scheduler and the sweep are called with an injected clock; nothing waits for the window to pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from host.api.app import create_app
from host.audience.quiet_hours import window_end
from host.dispatch.schemas import SendRequest
from host.settings import QuietHours
from host.settings.quiet_hours import parse_window
from host.storage.documents import utcnow
from tests.support.console import add_staff, logged_in
from tests.support.lanes import Services, services
from tests.support.stacks import Stack

TOKYO = "Asia/Tokyo"  # UTC+9 all year: a window around the time in UTC is far from the time there


def handed_out(s: Services, since: int) -> list[str]:
    """The delivery ids of the batches handed to the broker since the ``since``-th."""
    return [i for _, _, _, ids in s.enqueued.batches[since:] for i in ids]


def clock(at: datetime) -> str:
    return at.strftime("%H:%M")


def around_now(hours: float = 1.0) -> QuietHours:
    """A window from ``hours`` before the time in UTC to ``hours`` after it."""
    now = datetime.now(UTC)
    return QuietHours(start=clock(now - timedelta(hours=hours)), end=clock(now + timedelta(hours=hours)))


def quiet_services(stack: Stack, window: QuietHours, **fields: str) -> Services:
    user_fields = msgspec.structs.replace(stack.settings.config.user_fields, **fields)
    return services(stack, quiet_hours=window, user_fields=user_fields)


async def user(stack: Stack, uid: str, **fields: Any) -> str:
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", **fields})
    return uid


async def accept(s: Services, uid: str, **fields: Any) -> str:
    body = SendRequest(channels=["email"], recipients=[uid], message_title="T", message_content="C", **fields)
    return (await s.dispatcher.accept(body)).dispatch_id


async def delivery(stack: Stack, dispatch_id: str) -> dict[str, Any]:
    doc = await stack.db["deliveries"].find_one({"dispatch_id": dispatch_id})
    assert doc is not None
    return doc


async def test_a_normal_delivery_waits_for_the_end_of_quiet_hours_and_a_high_one_does_not(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    window = around_now()
    s = quiet_services(stack, window)
    sleeper, urgent = await user(stack, unique("sleeper")), await user(stack, unique("urgent"))
    newsletter, passcode = await accept(s, sleeper), await accept(s, urgent, priority="high")
    now = utcnow()
    end = window_end(now, parse_window(window), s.worker.quiet_hours.policy.default_zone)
    assert end is not None and end > now

    held, sent = await delivery(stack, newsletter), await delivery(stack, passcode)
    await s.worker.deliver("email", [held["_id"]], "normal", now=now)
    await s.worker.deliver("email", [sent["_id"]], "high", now=now)
    assert len(stack.mails_to(f"{urgent}@example.org")) == 1  # high ignores quiet hours
    assert stack.mails_to(f"{sleeper}@example.org") == []
    held = await delivery(stack, newsletter)
    assert (held["status"], held["attempts"]) == ("queued", 0)
    assert held["due_at"] == held["deferred_until"] == end

    # shown as deferred, counted as unsettled, listed by that status; "queued" no longer lists it
    view = await stack.view(newsletter)
    assert (view["counts"], view["settled"]) == ({"email": {"deferred": 1}}, False)
    deferred = (await stack.client.get(f"/dispatches/{newsletter}/deliveries?status=deferred")).json()
    assert [(item["status"], item["deferredUntil"]) for item in deferred["items"]] == [
        ("queued", end.isoformat().replace("+00:00", "Z"))
    ]
    queued = await stack.client.get(f"/dispatches/{newsletter}/deliveries?status=queued")
    assert queued.json()["items"] == []
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        await logged_in(console, await add_staff(stack, f"{unique('staff')}@example.test", "editor"))
        page = await console.get(f"/console/dispatches/{newsletter}")
        assert '<span class="status deferred">deferred 1</span>' in page.text
        listed = await console.get(f"/console/dispatches/{newsletter}?status=deferred")
        assert held["_id"] in listed.text

    # a copy of its broker message (or the sweep) handing it out before the end changes nothing
    batches = len(s.enqueued.batches)
    await s.worker.deliver("email", [held["_id"]], "normal", now=now + timedelta(minutes=5))
    await s.sweep.run_once(queued_older_than=60, now=now + timedelta(minutes=10))
    _, next_due = await s.scheduler.release_deferred(now=end - timedelta(milliseconds=1))
    assert held["_id"] not in handed_out(s, batches) and next_due is not None and next_due <= end
    assert stack.mails_to(f"{sleeper}@example.org") == []

    # at the end of the window the scheduler hands it to its lane, and it is sent
    released, _ = await s.scheduler.release_deferred(now=end)
    assert released >= 1
    assert [(lane, delay) for _, lane, delay, ids in s.enqueued.batches[batches:] if held["_id"] in ids] == [
        ("normal", 0)
    ]
    await s.worker.deliver("email", [held["_id"]], "normal", now=end)
    assert len(stack.mails_to(f"{sleeper}@example.org")) == 1
    assert (await stack.view(newsletter))["counts"] == {"email": {"sent": 1}}


async def test_each_user_is_quiet_in_their_own_time_zone_or_their_own_window(
    stack: Stack, unique: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    window = around_now()
    s = quiet_services(stack, window, quiet_hours="dnd", timezone="tz")
    now = utcnow()
    in_tokyo = now.astimezone(ZoneInfo(TOKYO))
    own = {"start": clock(in_tokyo - timedelta(minutes=30)), "end": clock(in_tokyo + timedelta(hours=3))}
    people = {
        "here": await user(stack, unique("here")),  # no time zone: defaultTimezone (UTC): quiet
        "tokyo": await user(stack, unique("tokyo"), tz=TOKYO),  # nine hours ahead: not quiet there
        "own": await user(stack, unique("own"), tz=TOKYO, dnd=own),  # their own window, in Tokyo
        "typo": await user(stack, unique("typo"), dnd={"start": "25:00", "end": "07:00"}),
    }
    dispatches = {name: await accept(s, uid, priority="bulk") for name, uid in people.items()}
    ids = {name: (await delivery(stack, dispatch_id))["_id"] for name, dispatch_id in dispatches.items()}
    with caplog.at_level(logging.WARNING, logger="host.audience.quiet_hours"):
        await s.worker.deliver("email", list(ids.values()), "bulk", now=now)  # one batch, as the broker's
    service_end = window_end(now, parse_window(window), s.worker.quiet_hours.policy.default_zone)
    own_end = window_end(now, parse_window(own), ZoneInfo(TOKYO))
    assert own_end is not None and own_end != service_end
    held = {name: (await delivery(stack, d)).get("deferred_until") for name, d in dispatches.items()}
    assert held == {"here": service_end, "tokyo": None, "own": own_end, "typo": service_end}
    assert [len(stack.mails_to(f"{uid}@example.org")) for uid in people.values()] == [0, 1, 0, 0]
    [warning] = [r.getMessage() for r in caplog.records if people["typo"] in r.getMessage()]
    assert "ignoring dnd for quiet hours: start: '25:00'" in warning
    # one deferral per end of window, each for the bulk lane
    entries = await stack.db["deferrals"].find({"messages.ids": {"$in": list(ids.values())}}).to_list(None)
    assert sorted(e["due_at"] for e in entries) == sorted([service_end, own_end])  # type: ignore[type-var]
    assert {m["lane"] for e in entries for m in e["messages"]} == {"bulk"}


async def test_a_release_lost_in_a_crash_is_handed_out_by_the_sweep_a_lease_after_it_was_due(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    window = around_now()
    s = quiet_services(stack, window)
    uid = await user(stack, unique("lost"))
    dispatch_id = await accept(s, uid)
    now = utcnow()
    doc = await delivery(stack, dispatch_id)
    await s.worker.deliver("email", [doc["_id"]], "normal", now=now)
    due = (await delivery(stack, dispatch_id))["deferred_until"]
    # the deferral taken (deleted) by a worker that died before handing it over
    await stack.db["deferrals"].delete_many({"messages.ids": doc["_id"]})
    lease = s.settings.config.delivery.enqueue_lease_seconds
    before = len(s.enqueued.batches)
    await s.sweep.run_once(queued_older_than=lease, now=due + timedelta(seconds=lease - 1))
    assert doc["_id"] not in handed_out(s, before)
    await s.sweep.run_once(queued_older_than=lease, now=due + timedelta(seconds=lease + 1))
    assert doc["_id"] in handed_out(s, before)
