"""Logs through real sends: no secret in any line at DEBUG (SMTP, Twilio, VAPID and database credentials),
and ``TIDINGS_LOG_FORMAT=json`` writing one JSON object per line from a real ``tidings worker``."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.runtime.logs import CONTEXT_FIELDS, TEXT_FORMAT, JsonFormatter
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from host.storage.store import Store, open_client
from tests.fakes.push import PushService
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import WebhookReceiver
from tests.services import RedisServer
from tests.support.channel_users import phone_for
from tests.support.configs import STACK_CONFIG
from tests.support.stacks import Stack, channel_env, make_settings, open_stack
from tests.support.waiting import eventually
from tests.support.worker_processes import MAIL_CONFIG, WorkerProcesses, wait_for_workers, worker_environ

MONGO_USER, MONGO_PASSWORD = "tidings", "mongo-pass-5e5e7"


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """DEBUG on every logger, with the ones that do not propagate also writing to caplog."""
    caplog.set_level(logging.DEBUG)
    saved: dict[logging.Logger, tuple[int, bool]] = {}
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            saved[logger] = (logger.level, logger.propagate)
            logger.setLevel(logging.DEBUG)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger, (level, propagate) in saved.items():
            logger.setLevel(level)
            if not propagate:
                logger.removeHandler(caplog.handler)


@pytest.fixture(scope="module")
async def auth_sink() -> AsyncIterator[SmtpSink]:
    async with SmtpSink(auth=True, password="smtp-pass-9f8e7") as sink:
        yield sink


@pytest.fixture(scope="module")
async def secret_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    auth_sink: SmtpSink,
    fake_twilio: FakeTwilio,
    push_service: PushService,
    webhook_receiver: WebhookReceiver,
    vapid_keys: tuple[str, str],
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("secrets"),
        devdb,
        redis_server,
        auth_sink,
        STACK_CONFIG,
        database="tidings_secrets",
        redis_db=11,
        SMTP_USER=auth_sink.user,
        SMTP_PASSWORD=auth_sink.password,
        **channel_env(fake_twilio, vapid_keys, webhook_receiver),
    ) as stack:
        yield stack


def _secrets(sink: SmtpSink, twilio: FakeTwilio, vapid_private: str) -> dict[str, str]:
    def b64(raw: str) -> str:
        return base64.b64encode(raw.encode()).decode()

    return {
        "SMTP password": sink.password,
        "SMTP AUTH PLAIN": b64(f"\0{sink.user}\0{sink.password}"),
        "SMTP AUTH LOGIN": b64(sink.password),
        "Twilio token": twilio.auth_token,
        "Twilio basic auth": b64(f"{twilio.account_sid}:{twilio.auth_token}"),
        "VAPID private key": vapid_private,
        "Mongo password": MONGO_PASSWORD,
    }


async def test_no_secret_reaches_any_log_line_at_debug(
    secret_stack: Stack,
    every_log: pytest.LogCaptureFixture,
    unique: Callable[[str], str],
    auth_sink: SmtpSink,
    fake_twilio: FakeTwilio,
    push_service: PushService,
    vapid_keys: tuple[str, str],
    devdb: DevDatabase,
    tmp_path: Path,
) -> None:
    stack = secret_stack
    uid = unique("secret")
    await stack.add_users(
        {
            "fiscalCode": uid,
            "mail": f"{uid}@example.org",
            "phoneNumber": phone_for(uid),
            "deviceToken": push_service.subscribe(application_server_key=vapid_keys[1]),
            "groups": [],
        }
    )
    channels = ["email", "sms", "voice", "push"]
    result = await stack.send(
        {"channels": channels, "recipients": [uid], "messageTitle": "Hi", "messageContent": "Hello"}
    )
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {channel: {"sent": 1} for channel in channels}
    assert stack.mails_to(f"{uid}@example.org")[0].authenticated
    # the development database has no authentication: a credentialed URL is refused at the handshake,
    # which still shows whether the driver or the store would log the URL
    credentialed = devdb.url.replace("mongodb://", f"mongodb://{MONGO_USER}:{MONGO_PASSWORD}@")
    settings = make_settings(tmp_path, devdb, STACK_CONFIG, MONGODB_URL=credentialed)
    store = Store(open_client(credentialed), settings)
    with pytest.raises(Exception):  # noqa: B017 (whatever the driver raises, only logs matter)
        await store.ping()
    await store.close()
    logging.getLogger("tests.secrets").debug("settings: %r; environment: %r", settings, settings.env)

    records = every_log.records
    assert records, "DEBUG logging captured nothing"
    text, as_json = logging.Formatter(TEXT_FORMAT), JsonFormatter()
    lines = [text.format(r) for r in records] + [as_json.format(r) for r in records]
    found = {
        what: line
        for what, secret in _secrets(auth_sink, fake_twilio, vapid_keys[0]).items()
        for line in lines
        if secret in line
    }
    assert found == {}, f"secrets in {len(records)} log records: {found}"


async def test_tidings_worker_writes_every_line_as_json_with_the_delivery_fields(
    tmp_path: Path, devdb: DevDatabase, redis_server: RedisServer, unique: Callable[[str], str]
) -> None:
    """A real ``tidings worker`` (supervisor and worker process) with ``TIDINGS_LOG_FORMAT=json`` at DEBUG
    sends one mail and fails another: every line it writes parses as a JSON object with time, level,
    logger and message, and the failure's line names the channel and the delivery as fields."""
    database = unique("json_logs").replace("-", "_")
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/4"  # queues of this test only
    config = tmp_path / "configuration.json"
    config.write_text(json.dumps(MAIL_CONFIG))
    fine, refused = unique("fine"), unique("refused")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
    db = mongo[database]
    await db["users"].insert_many(
        [{"fiscalCode": uid, "mail": f"{uid}@example.org"} for uid in (fine, refused)]
    )
    output = tmp_path / "worker.log"
    with SmtpSink() as sink:
        sink.refuse(f"{refused}@example.org")  # 550 5.1.1: a permanent failure, which the worker logs
        environ = worker_environ(
            config,
            devdb.url,
            database,
            redis_url,
            SMTP_HOST=sink.host,
            SMTP_PORT=str(sink.port),
            TIDINGS_LOG_FORMAT="json",
            TIDINGS_LOG_LEVEL="DEBUG",
        )
        broker = create_broker(redis_url)
        actors = declare_actors(
            broker, load_settings({**environ, "TIDINGS_API_AUTH": "off"}), sweep_interval=None
        )
        workers = WorkerProcesses(environ, 1, 2, output=output)
        try:
            async with AsyncTestClient(create_app(actors)) as client:
                since = time.time()
                workers.start()
                await asyncio.to_thread(wait_for_workers, redis_url, 1, since=since, watch=(workers,))
                answer = await client.post(
                    "/send",
                    json={
                        "channels": ["email"],
                        "recipients": [fine, refused],
                        "messageTitle": "Hi",
                        "messageContent": "Logged",
                    },
                )
                assert answer.status_code == 200, answer.text
                dispatch_id = answer.json()["dispatchId"]

                async def statuses() -> list[str]:
                    docs = await db["deliveries"].find({"dispatch_id": dispatch_id}).to_list(None)
                    return sorted(doc["status"] for doc in docs)

                await eventually(
                    statuses, until=lambda s: s == ["failed", "sent"], timeout=60, what="settled"
                )
        finally:
            workers.stop()
            broker.close()
            await mongo.drop_database(database)
            await mongo.close()

    lines = output.read_text().splitlines()
    not_json = []
    entries: list[dict[str, Any]] = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            not_json.append(line)
    assert not not_json, f"{len(not_json)} of {len(lines)} lines are not JSON, e.g. {not_json[:3]}"
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert {"DEBUG", "INFO"} <= {entry["level"] for entry in entries}  # TIDINGS_LOG_LEVEL held too
    assert {entry["logger"].split(".")[0] for entry in entries} >= {"dramatiq", "host"}
    failed_id = next(d for d in named_ids(entries) if refused in d)
    [failure] = [e for e in entries if e["message"].startswith(f"delivery {failed_id} failed")]
    assert failure["channel"] == "email" and failed_id in failure["delivery_ids"]
    assert set(failure) - {"time", "level", "logger", "message"} <= set(CONTEXT_FIELDS)


def named_ids(entries: list[dict[str, Any]]) -> list[str]:
    """Every delivery id the lines name in their ``delivery_ids`` field."""
    return [i for entry in entries for i in entry.get("delivery_ids", [])]
