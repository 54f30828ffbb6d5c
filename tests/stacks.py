"""A second Tidings stack for tests that need other settings than the session ``stack`` (file service,
Flow Manager): its own database, its own Redis database index, its own dramatiq Worker.

dramatiq keeps one global event-loop thread for async actors; a Worker's AsyncIO middleware replaces it
at boot and stops it at shutdown, which would pull it from under the other Worker. So when a Worker is
already running (the session stack: pass it as ``session_stack`` to make sure it starts first), this
stack's Worker runs without the AsyncIO middleware, on that Worker's event-loop thread. Without one,
it brings its own thread: then no test using the session ``stack`` may run while this stack is open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from host.api.app import create_app
from host.dispatch.accept import Dispatcher
from host.dispatch.expansion import Expansion
from host.dispatch.outbox import Enqueue, Outbox
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.storage.devdb import DevDatabase
from tests.conftest import Stack, make_settings
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer

__all__ = ["dispatcher", "open_stack"]


@asynccontextmanager
async def open_stack(
    tmp: Path,
    devdb: DevDatabase,
    redis_server: RedisServer,
    sink: SmtpSink,
    config: dict[str, Any],
    *,
    database: str,
    redis_db: int,
    session_stack: Stack | None = None,
    inbox: bool = False,
    **env: str,
) -> AsyncIterator[Stack]:
    """Tidings on ``database`` and Redis database ``redis_db`` (queues apart from the session stack's).

    ``inbox``: as the embedded mode runs it, without the SMTP sink's variables, so channels with no
    provider configured are captured (host.inbox) and ``/dev/inbox`` is served.
    """
    smtp = {} if inbox else {"SMTP_HOST": sink.host, "SMTP_PORT": str(sink.port)}
    settings = make_settings(
        tmp,
        devdb,
        config,
        REDIS_URL=redis_server.url.rsplit("/", 1)[0] + f"/{redis_db}",
        MONGODB_DATABASE=database,
        TIDINGS_AUTO_MIGRATE="1",
        **smtp,
        **env,
    )
    assert session_stack is None or session_stack.actors.runtime is not None
    broker = create_broker(settings.env.redis_url)
    if get_event_loop_thread() is not None:
        broker.middleware[:] = [m for m in broker.middleware if not isinstance(m, AsyncIO)]
    actors = declare_actors(broker, settings, sweep_interval=None, inbox=inbox)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    await asyncio.to_thread(worker.start)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
    runtime = actors.new_runtime()
    try:
        async with AsyncTestClient(create_app(actors)) as client:
            yield Stack(settings, actors, client, mongo[database], sink, runtime)
    finally:
        await asyncio.to_thread(worker.stop)
        broker.close()
        await runtime.close()
        await mongo.drop_database(database)
        await mongo.close()


def dispatcher(stack: Stack, enqueue: Enqueue, schedule_expansion: Any = None) -> Dispatcher:
    """The stack's dispatcher (its runtime's store and services), handing its batches to ``enqueue``."""
    runtime = stack.runtime
    outbox = Outbox(runtime.store, enqueue, {"email": 50})
    return Dispatcher(
        runtime.settings,
        runtime.registry,
        runtime.renderer,
        runtime.templates,
        Expansion(runtime.store, runtime.registry, outbox, runtime.opt_outs),
        schedule_expansion or (lambda _dispatch_id: None),
    )
