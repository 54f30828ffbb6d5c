"""Webhook credentials, never in a log line nor on the console; an endpoint's own headers from the env.

The event log and poster run on a database of their own (``run_once``, no background loop), posting to
a receiver on loopback; the console test reads the session stack's events page.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from host.api.app import create_app
from host.events.log import EventLog
from host.events.webhooks import WebhookPoster
from host.runtime.logs import TEXT_FORMAT, JsonFormatter
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from host.storage.store import Store, open_client
from tests.admin_ui.test_roles import add_staff, logged_in
from tests.conftest import BASE_CONFIG, Stack, make_settings
from tests.fakes.webhook import WebhookReceiver

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


async def test_the_events_page_shows_no_credential_of_a_url(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    event = an_event(unique)
    url = f"https://hookuser:{PASSWORD}@hooks.example.test/in?token={TOKEN}"
    await stack.db["events"].insert_one(event)
    await stack.db["webhook_deliveries"].insert_one(  # as a record written before URLs were redacted
        {"_id": f"{event['_id']}:0", "event_id": event["_id"], "endpoint": 0, "url": url, "status": "failed",
         "attempts": 8, "last_error": f"ConnectError: cannot reach {url}", "created_at": utcnow()}
    )  # fmt: skip
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as console:
        await logged_in(console, await add_staff(stack, f"{unique('ed')}@example.test", "editor"))
        page = await console.get("/console/events")
    assert page.status_code == 200 and event["_id"] in page.text
    assert "https://***@hooks.example.test/in?token=***" in page.text
    assert PASSWORD not in page.text and TOKEN not in page.text
