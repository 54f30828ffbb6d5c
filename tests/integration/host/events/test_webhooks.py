"""Delivery events: signed webhook posts, each once per endpoint, retried, and replayed on request;
a URL's credentials never in a log line, an endpoint's own headers from the environment.

The credential tests run an event log and poster on a database of their own (``run_once``, no
background loop), posting to a receiver on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from host.events.log import EventLog
from host.events.webhooks import WebhookPoster, verify_signature
from host.runtime.logs import TEXT_FORMAT, JsonFormatter
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from host.storage.store import Store, open_client
from tests.fakes.smtp import SmtpSink
from tests.fakes.webhook import WebhookPost, WebhookReceiver
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.events import SECRET, of_dispatch
from tests.support.stacks import Stack, make_settings, open_stack
from tests.support.waiting import eventually


def signature_ok(post: WebhookPost) -> bool:
    """The receiver's check, written from the README's description (not Tidings' own helper)."""
    header = post.headers["tidings-signature"]
    fields = dict(item.split("=", 1) for item in header.split(","))
    raw = post.raw
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + raw, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= 300
    return (
        fresh
        and hmac.compare_digest(expected, fields["v1"])
        and verify_signature(SECRET.encode(), header, raw)
    )


async def test_every_event_arrives_once_signed_and_a_500_is_retried(
    events_stack: Stack, receiver: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    fields = events_stack.fields
    users = [unique(f"u{i}") for i in range(2)]
    await events_stack.add_users(
        *({fields.id: uid, fields.email_address: f"{uid}@example.test"} for uid in users)
    )
    receiver.script([500])  # the first post is refused: it must come again
    accepted = await events_stack.send(
        {
            "channels": ["email"],
            "recipients": [*users, unique("nobody")],
            "messageTitle": "Hello",
            "messageContent": "Events",
        }
    )
    dispatch_id = accepted["dispatchId"]

    await eventually(
        lambda: len(of_dispatch(receiver.accepted(), dispatch_id)) >= 4, timeout=20, what="four events"
    )
    events = events_stack.runtime.events

    async def entries_left() -> list[str]:
        queued = await events.queue.find({}, {"_id": 1}).to_list(None)
        return [entry["_id"] for entry in queued if str(entry["_id"]).startswith(dispatch_id)]

    # the worker's poster writes each answer down after it; then no pass, however late (every lease and
    # retry run out), finds anything of this dispatch due: nothing can be posted twice
    await eventually(entries_left, until=lambda left: not left, timeout=20, what="the posts written down")
    poster = WebhookPoster(events)
    try:
        await poster.run_once(now=utcnow() + timedelta(hours=1))
    finally:
        await poster.close()
    posts = of_dispatch(receiver.posts, dispatch_id)
    ok = of_dispatch(receiver.accepted(), dispatch_id)
    types = sorted(p.body["type"] for p in ok)
    assert types == ["delivery.sent", "delivery.sent", "delivery.skipped", "dispatch.completed"]
    ids = [p.body["id"] for p in ok]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert all(signature_ok(p) for p in posts)
    refused = [p for p in posts if p.status == 500]
    assert len(refused) == 1 and refused[0].body["id"] in ids  # retried, then accepted
    done = next(p.body for p in ok if p.body["type"] == "dispatch.completed")
    assert done["data"]["id"] == dispatch_id and done["data"]["total"] == 3 and done["data"]["settled"]
    sent = next(p.body for p in ok if p.body["type"] == "delivery.sent")
    assert sent["data"]["dispatchId"] == dispatch_id and sent["data"]["status"] == "sent"
    record = await events_stack.db["webhook_deliveries"].find_one({"_id": f"{refused[0].body['id']}:0"})
    assert record is not None and record["status"] == "delivered" and record["attempts"] == 2

    # replay (what the console's button does) posts the event once more
    before = len(receiver.accepted())
    assert await events_stack.runtime.events.replay(done["id"]) == 1
    await eventually(lambda: len(receiver.accepted()) > before, timeout=20, what="the replayed event")
    assert receiver.accepted()[-1].body["id"] == done["id"]


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookReceiver]:
    """A receiver of these tests' own: its scripted answers go to their posts only."""
    with WebhookReceiver() as opened:
        yield opened


@pytest.fixture
async def log_by_hand(
    tmp_path: Path, devdb: DevDatabase, hooks: WebhookReceiver, unique: Callable[[str], str]
) -> AsyncIterator[EventLog]:
    """An event log on a database of the test's own, posting to ``hooks``, that no worker polls: the
    test makes each pass of the poster itself, at a time it chooses."""
    hooks.reset()
    config = {
        **BASE_CONFIG,
        "webhooks": [
            {
                "url": f"{hooks.base_url}/retried",
                "maxAttempts": 3,
                "minBackoffSeconds": 1,
                "maxBackoffSeconds": 4,
            }
        ],
    }
    database = unique("webhook-retries")
    settings = make_settings(
        tmp_path, devdb, config, MONGODB_DATABASE=database, TIDINGS_WEBHOOK_SECRET=SECRET
    )
    store = Store.connect(settings)
    try:
        yield EventLog(store, settings)
    finally:
        await store.client.drop_database(database)
        await store.close()


PASSWORD, TOKEN, HEADER_SECRET = "HOOKPASS-5f1e", "TOKVALUE-77a2", "HEADERSECRET-c3d9"
SECRETS = (PASSWORD, TOKEN, HEADER_SECRET)


def credentialed(receiver: WebhookReceiver) -> str:
    return receiver.url.replace("http://", f"http://hookuser:{PASSWORD}@") + f"?token={TOKEN}&v=2"


@asynccontextmanager
async def poster_for(
    tmp: Path, devdb: DevDatabase, endpoints: list[dict[str, Any]], **env: str
) -> AsyncIterator[tuple[EventLog, WebhookPoster]]:
    database = f"tidings_hook_{tmp.name[-12:]}"
    settings = make_settings(
        tmp, devdb, {**BASE_CONFIG, "webhooks": endpoints},
        MONGODB_DATABASE=database, TIDINGS_WEBHOOK_SECRET="whsec-0123456789", **env,
    )  # fmt: skip
    store = Store(open_client(devdb.url), settings)
    events = EventLog(store, settings)
    poster = WebhookPoster(events, worker="test")
    try:
        yield events, poster
    finally:
        await poster.close()
        await store.client.drop_database(database)
        await store.close()


def a_sent_event(name: str) -> dict[str, Any]:
    return {
        "_id": f"{name}:sent",
        "type": "delivery.sent",
        "created_at": utcnow(),
        "dispatch_id": name,
        "data": {},
    }


async def test_a_retry_waits_for_the_endpoints_retry_after(
    log_by_hand: EventLog, hooks: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    events = log_by_hand
    await events.emit([a_sent_event(unique("late"))])
    hooks.script([(429, "120")])  # the backoff alone would wait at most 1 s
    poster = WebhookPoster(events)
    try:
        first = utcnow()
        assert await poster.run_once(now=first) == 1
        [entry] = await events.queue.find({}).to_list(None)
        assert entry["due_at"] >= first + timedelta(seconds=120)
        assert await poster.run_once(now=first + timedelta(seconds=119)) == 0
        assert [post.status for post in hooks.posts] == [429]
        assert await poster.run_once(now=entry["due_at"]) == 1
    finally:
        await poster.close()
    assert [post.status for post in hooks.posts] == [429, 201]
    [record] = await events.records.find({}).to_list(None)
    assert (record["status"], record["attempts"]) == ("delivered", 2)


async def test_posts_stop_at_max_attempts_and_the_record_ends_failed(
    log_by_hand: EventLog, hooks: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    events = log_by_hand
    await events.emit([a_sent_event(unique("refused"))])
    hooks.script([500, 503, 500, 500])
    poster = WebhookPoster(events)
    try:
        for _ in range(3):  # each pass an hour later than the last: every backoff has run out
            assert await poster.run_once(now=utcnow() + timedelta(hours=1)) == 1
        assert await poster.run_once(now=utcnow() + timedelta(days=1)) == 0  # maxAttempts: 3
    finally:
        await poster.close()
    assert [post.status for post in hooks.posts] == [500, 503, 500]
    [record] = await events.records.find({}).to_list(None)
    assert (record["status"], record["attempts"], record["last_status"]) == ("failed", 3, 500)
    assert "gave up after 3" in record["last_error"]
    assert await events.queue.count_documents({}) == 0


@pytest.fixture(scope="module")
async def filtered_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    hooks: WebhookReceiver,
    stack: Stack,
) -> AsyncIterator[Stack]:
    """Tidings posting every event to ``/every`` and only failures and completions to ``/chosen``."""
    config = {
        **BASE_CONFIG,
        "webhooks": [
            {"url": f"{hooks.base_url}/every", "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2},
            {
                "url": f"{hooks.base_url}/chosen",
                "events": ["delivery.failed", "dispatch.completed"],
                "minBackoffSeconds": 0.05,
                "maxBackoffSeconds": 0.2,
            },
        ],
    }
    async with open_stack(
        tmp_path_factory.mktemp("filtered-events"),
        devdb,
        redis_server,
        smtp_sink,
        config,
        database="tidings_webhook_filter",
        redis_db=3,
        session_stack=stack,
        TIDINGS_WEBHOOK_SECRET=SECRET,
    ) as opened:
        yield opened


async def test_an_endpoint_gets_only_the_event_types_it_lists(
    filtered_stack: Stack, hooks: WebhookReceiver, unique: Callable[[str], str]
) -> None:
    hooks.reset()
    fine, broken = unique("fine"), unique("broken")
    await filtered_stack.add_users(
        {"fiscalCode": fine, "mail": f"{fine}@example.test"},
        {"fiscalCode": broken, "mail": "not an address"},
    )
    accepted = await filtered_stack.send(
        {
            "channels": ["email"],
            "recipients": [fine, broken, unique("nobody")],
            "messageTitle": "Hello",
            "messageContent": "Filtered",
        }
    )
    dispatch_id = accepted["dispatchId"]

    def types_at(path: str) -> list[str]:
        return sorted(p.body["type"] for p in of_dispatch(hooks.accepted(), dispatch_id) if p.path == path)

    every = ["delivery.failed", "delivery.sent", "delivery.skipped", "dispatch.completed"]
    await eventually(lambda: types_at("/every"), until=lambda seen: seen == every, timeout=30, what="events")
    await eventually(
        lambda: types_at("/chosen"),
        until=lambda seen: seen == ["delivery.failed", "dispatch.completed"],
        timeout=30,
        what="the chosen events",
    )
    # what can ever be posted to an endpoint is what has a record for it: nothing else for /chosen
    records = await filtered_stack.db["webhook_deliveries"].find({"endpoint": 1}).to_list(None)
    chosen = sorted(
        r["event_id"].rpartition(":")[2] for r in records if r["event_id"].startswith(dispatch_id)
    )
    assert chosen == ["completed", "failed"]


def an_event(unique: Callable[[str], str]) -> dict[str, Any]:
    return {"_id": unique("evt"), "type": "dispatch.completed", "created_at": utcnow(), "data": {"id": "d"}}


def formatted(caplog: pytest.LogCaptureFixture) -> list[str]:
    text, as_json = logging.Formatter(TEXT_FORMAT), JsonFormatter()
    return [line for r in caplog.records for line in (text.format(r), as_json.format(r))]


async def test_a_credentialed_url_is_posted_to_but_never_logged(
    tmp_path: Path, devdb: DevDatabase, unique: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver() as receiver:
        async with poster_for(tmp_path, devdb, [{"url": credentialed(receiver)}]) as (events, poster):
            event = an_event(unique)
            await events.emit([event])
            assert await poster.run_once() == 1
            [post] = receiver.accepted()
            record = await events.records.find_one({"event_id": event["_id"]})
        expected_url = receiver.url.replace("http://", "http://***@") + "?token=***&v=***"
    assert post.body["id"] == event["_id"] and post.headers["authorization"].startswith("Basic ")
    lines = formatted(caplog)
    assert [line for line in lines if any(secret in line for secret in SECRETS)] == []
    assert any("/hook?token=***" in line for line in lines), "httpx did not log the post"
    assert record is not None and record["status"] == "delivered"
    assert record["url"] == expected_url  # what the console shows


async def test_an_endpoint_sends_its_own_headers_from_the_environment(
    tmp_path: Path, devdb: DevDatabase, unique: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver() as receiver:
        endpoint = {"url": receiver.url, "headers": {"Authorization": {"env": "HOOK_TOKEN"}}}
        environ = {"HOOK_TOKEN": f"Bearer {HEADER_SECRET}"}
        async with poster_for(tmp_path, devdb, [endpoint], **environ) as (events, poster):
            await events.emit([an_event(unique)])
            assert await poster.run_once() == 1
        [post] = receiver.accepted()
    assert post.headers["authorization"] == f"Bearer {HEADER_SECRET}"
    assert "tidings-signature" in post.headers
    assert [line for line in formatted(caplog) if HEADER_SECRET in line] == []
    assert HEADER_SECRET not in repr(events.endpoints)
