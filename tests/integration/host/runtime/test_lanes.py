"""The lanes in a real ``tidings worker`` on a real Redis broker: a ``high`` message queued behind a bulk
dispatch is sent while the bulk still drains, where the same message in the bulk lane waits for all of it.

Everything is queued before the worker starts (four bulk batches of e-mails, then one more single bulk
e-mail, then one high e-mail), so what the SMTP sink receives, in order, is the worker's choice alone. The
worker has 4 threads and ``lanes.reservedThreads`` 1: bulk may run 2 batches at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.email import EmailChannel
from host.dispatch.schemas import SendRequest
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from host.storage.migrations import ensure_migrated
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.cli_runs import TidingsProcess
from tests.support.waiting import eventually

READY = "is ready for action"  # dramatiq's log line once a worker process consumes
BATCH = EmailChannel.limits.batch_size
BULK = 4 * BATCH  # one listed dispatch: within INLINE_AUDIENCE, expanded in the request


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
async def environ(
    tmp_path: Path,
    devdb: DevDatabase,
    own_redis: RedisServer,
    own_sink: SmtpSink,
    unique: Callable[[str], str],
) -> dict[str, str]:
    config = {
        "activeChannels": ["email"],
        "sender": {"email": "noreply@tidings.test"},
        "userFields": {"id": "fiscalCode", "emailAddress": "mail"},
        "templateSyntax": "jinja",
        "lanes": {"reservedThreads": 1},
    }
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps(config))
    environ = {
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": devdb.url,
        "MONGODB_DATABASE": unique("lanes").replace("-", "_"),
        "REDIS_URL": own_redis.url,
        "SMTP_HOST": own_sink.host,
        "SMTP_PORT": str(own_sink.port),
        "TIDINGS_SECRET_KEY": "a-secret-key-for-the-lanes-test",
    }
    await ensure_migrated(load_settings(environ), apply=True)
    return environ


@pytest.fixture
async def worker(environ: dict[str, str], tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Starts ``tidings worker --processes 1 --threads 4`` when called; stops it after the test."""
    started: list[TidingsProcess] = []

    async def start() -> None:
        args = ["worker", "--processes", "1", "--threads", "4"]
        process = TidingsProcess(args, {**environ, "PYTHONUNBUFFERED": "1"}, tmp_path / "worker.log")
        started.append(process)
        await asyncio.to_thread(process.wait_for, lambda line: READY in line, "the worker to consume", 60)

    try:
        yield start
    finally:
        for process in started:
            process.stop()


async def test_high_overtakes_a_bulk_backlog_that_the_same_message_in_the_bulk_lane_waits_for(
    environ: dict[str, str], worker: Callable[[], Any], own_sink: SmtpSink, unique: Callable[[str], str]
) -> None:
    settings = load_settings(environ)
    broker = create_broker(settings.env.redis_url)
    actors = declare_actors(broker, settings, sweep_interval=None)  # enqueues only: the worker is a process
    runtime = actors.new_runtime()
    try:
        people = [unique(f"p{i:03d}") for i in range(BULK)]
        late, urgent = unique("late"), unique("urgent")
        await runtime.store.users.insert_many(
            [{"fiscalCode": uid, "mail": f"{uid}@example.org"} for uid in [*people, late, urgent]]
        )

        async def send(recipients: list[str], priority: Any) -> None:
            text = {"message_title": "T", "message_content": "C"}
            await runtime.dispatch.accept(
                SendRequest(channels=["email"], recipients=recipients, priority=priority, **text)
            )

        await send(people, "bulk")
        await send([late], "bulk")
        await send([urgent], "high")
        depths = await runtime.queue_depths()
        assert depths["email"] == {
            "high": {"ready": 1, "delayed": 0},
            "normal": {"ready": 0, "delayed": 0},
            "bulk": {"ready": BULK // BATCH + 1, "delayed": 0},
        }

        await worker()
        received = await eventually(
            lambda: [mail.rcpt_tos[0] for mail in own_sink.received],
            until=lambda got: len(got) >= BULK + 2,
            timeout=120,
            what="every e-mail at the sink",
        )
        assert sorted(received) == sorted(f"{uid}@example.org" for uid in [*people, late, urgent])
        high_at, late_at = received.index(f"{urgent}@example.org"), received.index(f"{late}@example.org")
        # the high e-mail went out beside the at most two bulk batches its lane's budget lets run ...
        assert high_at < 2 * BATCH, high_at
        # ... while the single bulk e-mail queued just before it waited for every batch ahead of it
        assert late_at >= BULK - BATCH, late_at
        assert (await runtime.queue_depths())["email"]["bulk"] == {"ready": 0, "delayed": 0}
    finally:
        await runtime.close()
        broker.close()
