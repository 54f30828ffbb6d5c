"""`GET /stats` and what feeds it: per-minute counters written with the results, providers' verdicts, queues.

A stack of its own (its own database) sends e-mail to an SMTP sink scripted to refuse now and then, so
every number can be predicted: sent, retried, failed, and the provider's share of failures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from host.delivery.minute_counts import MINUTES_COLLECTION
from host.delivery.stats import StatsService
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack


@pytest.fixture(scope="module")
def sink() -> SmtpSink:
    with SmtpSink() as running:  # its own: the scripted refusals must not reach the session's sink
        yield running  # type: ignore[misc]


@pytest.fixture(scope="module")
async def stats_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    sink: SmtpSink,
    stack: Stack,
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("stats"),
        devdb,
        redis_server,
        sink,
        {**BASE_CONFIG, "delivery": {"maxAttempts": 2, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.1}},
        database="tidings_stats",
        session_stack=stack,
        redis_db=8,
    ) as opened:
        yield opened


async def _stats(stack: Stack) -> dict[str, Any]:
    response = await stack.client.get("/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _totals(stats: dict[str, Any], channel: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for point in stats["perMinute"]:
        if point["channel"] == channel:
            totals[point["outcome"]] = totals.get(point["outcome"], 0) + point["count"]
    return totals


async def test_outcomes_and_provider_failures_are_counted_per_minute(
    stats_stack: Stack, sink: SmtpSink, unique: Callable[[str], str]
) -> None:
    users = [unique(f"u{i}") for i in range(6)]
    await stats_stack.add_users(*({"fiscalCode": u, "mail": f"{u}@example.org"} for u in users))
    # the first message is refused for now (retried, then sent), the second for good (failed)
    sink.script(["451 4.3.0 try again later", "550 5.1.1 no such user"])
    result = await stats_stack.send(
        {"channels": ["email"], "recipients": users, "messageTitle": "Stats", "messageContent": "counted"}
    )
    view = await stats_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 5, "failed": 1}}

    stats = await _stats(stats_stack)
    assert _totals(stats, "email") == {"sent": 5, "failed": 1, "retry": 1}
    [provider] = stats["providers"]
    label = f"smtp://{sink.host}:{sink.port}"
    # 7 attempts: the 451 is the provider's failure; the 550 (an unknown user) is the message's
    assert provider == {"channel": "email", "provider": label, "ok": 6, "failed": 1, "failureRate": 1 / 7}
    assert stats["queues"] == [
        {"channel": "email", "lane": "normal", "queued": 0, "sending": 0, "oldestQueuedAt": None}
    ]
    assert stats["oldestQueued"] is None
    assert all(point["minute"].endswith(":00Z") for point in stats["perMinute"])


async def test_an_unreachable_lone_provider_counts_as_failing(
    tmp_path: Path, devdb: DevDatabase, redis_server: RedisServer, stack: Stack, unique: Callable[[str], str]
) -> None:
    config = {
        **BASE_CONFIG,
        "delivery": {"maxAttempts": 1, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.1},
    }
    with SmtpSink() as closed:
        pass  # stopped: its port refuses connections now
    async with open_stack(
        tmp_path,
        devdb,
        redis_server,
        closed,
        config,
        database="tidings_stats_down",
        session_stack=stack,
        redis_db=13,  # not the module's stack's 8: its workers would take these batches
    ) as down:
        uid = unique("down")
        await down.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
        result = await down.send(
            {"channels": ["email"], "recipients": [uid], "messageTitle": "x", "messageContent": "y"}
        )
        assert (await down.wait_settled(result["dispatchId"]))["counts"] == {"email": {"failed": 1}}
        stats = await _stats(down)
        assert _totals(stats, "email") == {"failed": 1}
        [provider] = stats["providers"]
        assert (provider["ok"], provider["failed"], provider["failureRate"]) == (0, 1, 1.0)


async def test_queues_and_the_oldest_queued_delivery(stats_stack: Stack) -> None:
    now = utcnow()
    old, older = now - timedelta(minutes=3), now - timedelta(minutes=7)
    await stats_stack.db["deliveries"].insert_many(
        [
            {
                "_id": "q:1",
                "dispatch_id": "q",
                "channel": "email",
                "user_id": "a",
                "status": "queued",
                "updated_at": old,
            },
            {
                "_id": "q:2",
                "dispatch_id": "q",
                "channel": "email",
                "user_id": "b",
                "status": "queued",
                "updated_at": older,
            },
            {
                "_id": "q:3",
                "dispatch_id": "q",
                "channel": "email",
                "user_id": "c",
                "status": "sending",
                "updated_at": now,
            },
            {
                "_id": "q:4",
                "dispatch_id": "q",
                "channel": "email",
                "user_id": "d",
                "status": "queued",
                "priority": "high",
                "updated_at": now,
            },
        ]
    )
    try:
        service = StatsService(stats_stack.runtime.store, ["email"], queue_ttl=0)  # no cache: read now
        snapshot = await service.snapshot(now)
        high, queue = snapshot.queues  # by lane: high, then normal (the documents without a priority)
        assert (high.channel, high.lane, high.queued, high.sending) == ("email", "high", 1, 0)
        assert (queue.channel, queue.lane, queue.queued, queue.sending) == ("email", "normal", 2, 1)
        assert queue.oldest_queued_at == older
        assert snapshot.oldest_queued is not None
        assert snapshot.oldest_queued.channel == "email"
        assert snapshot.oldest_queued.age_seconds == pytest.approx(420, abs=1)
    finally:
        await stats_stack.db["deliveries"].delete_many({"dispatch_id": "q"})


async def test_the_window_is_the_last_24_hours(stats_stack: Stack) -> None:
    now = utcnow().replace(second=30, microsecond=0)
    minute = now.replace(second=0)
    counters = stats_stack.db[MINUTES_COLLECTION]
    await counters.insert_many(
        [
            {
                "_id": "w:old",
                "minute": minute - timedelta(hours=24),
                "channel": "sms",
                "provider": None,
                "sent": 9,
            },
            {
                "_id": "w:in",
                "minute": minute - timedelta(hours=23, minutes=59),
                "channel": "sms",
                "provider": None,
                "sent": 4,
            },
        ]
    )
    try:
        snapshot = await StatsService(stats_stack.runtime.store, ["email", "sms"]).snapshot(now)
        sms = [point for point in snapshot.per_minute if point.channel == "sms"]
        assert [(point.minute, point.count) for point in sms] == [
            (minute - timedelta(hours=23, minutes=59), 4)
        ]
        assert snapshot.since == minute - timedelta(hours=23, minutes=59)
    finally:
        await counters.delete_many({"_id": {"$in": ["w:old", "w:in"]}})


async def test_stats_need_the_read_scope(stack: Stack) -> None:
    schema = (await stack.client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/stats"]["get"]
    assert operation["x-tidings-scope"] == "read"
    assert set(operation["responses"]) >= {"200", "401", "403"}
