"""Tidings in-process for tests: the ``Stack`` the integration fixtures yield, and stacks of other settings.

A :class:`Stack` is the ASGI app through Litestar's test client plus a dramatiq Worker on the Redis broker
in threads, against real servers on 127.0.0.1 (the session one is ``stack`` in tests/integration/conftest.py).
:func:`open_stack` opens a second one for tests that need other settings than the session ``stack`` (file
service, Flow Manager): its own database, its own Redis database index, its own dramatiq Worker.

dramatiq keeps one global event-loop thread for async actors; a Worker's AsyncIO middleware replaces it
at boot and stops it at shutdown, which would pull it from under the other Worker. So when a Worker is
already running (the session stack: pass it as ``session_stack`` to make sure it starts first), this
stack's Worker runs without the AsyncIO middleware, on that Worker's event-loop thread. Without one,
it brings its own thread: then no test using the session ``stack`` may run while this stack is open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
from host.runtime.actors import Actors, declare_actors
from host.runtime.broker import create_broker
from host.runtime.wiring import Runtime
from host.settings import Settings, load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import WebhookReceiver
from tests.services import RedisServer
from tests.support.configs import TEST_SECRET_KEY
from tests.support.waiting import eventually

__all__ = ["Stack", "channel_env", "dispatcher", "make_settings", "open_stack", "running_stack"]


def channel_env(
    fake_twilio: FakeTwilio, vapid_keys: tuple[str, str], webhook_receiver: WebhookReceiver
) -> dict[str, str]:
    """The environment variables of the SMS, voice, push and webhook channels, pointed at the fakes."""
    return {
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        "TWILIO_API_BASE": fake_twilio.url,
        "VAPID_PRIVATE_KEY": vapid_keys[0],
        "VAPID_SUBJECT": "mailto:ops@tidings.test",
        "WEBHOOK_URL": webhook_receiver.url,
    }


def make_settings(tmp: Path, devdb: DevDatabase, config: dict[str, Any], **env: str) -> Settings:
    """Settings as the service reads them: a configuration file and environment variables."""
    path = tmp / "configuration.json"
    path.write_text(json.dumps(config))
    # API key checks off unless a test turns them on (tests/integration/host/api/test_auth.py passes
    # TIDINGS_API_AUTH="on")
    environ = {
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": devdb.url,
        "TIDINGS_API_AUTH": "off",
        "TIDINGS_SECRET_KEY": TEST_SECRET_KEY,  # signs unsubscribe links (host.access.unsubscribe_links)
        **env,
    }
    return load_settings(environ)


@dataclass
class Stack:
    """Tidings running against the real services."""

    settings: Settings
    actors: Actors
    client: AsyncTestClient[Any]
    db: Any  # an AsyncMongoClient database of the test's own loop
    sink: SmtpSink
    runtime: Runtime  # services bound to the test's own loop (the API's run on the client's portal)
    worker: dramatiq.Worker | None = None  # the dramatiq Worker running the actors (stopped at the end)

    @property
    def fields(self) -> Any:
        return self.settings.config.user_fields

    async def add_users(self, *users: dict[str, Any]) -> None:
        await self.db[self.settings.env.users_collection].insert_many([dict(u) for u in users])

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/send", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def view(self, dispatch_id: str) -> dict[str, Any]:
        """The dispatch as the status API shows it."""
        view: dict[str, Any] = (await self.client.get(f"/dispatches/{dispatch_id}")).json()
        return view

    async def wait_settled(self, dispatch_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the status API until every delivery is settled."""
        return await eventually(
            lambda: self.view(dispatch_id),
            until=lambda view: view["settled"],
            timeout=timeout,
            what=f"dispatch {dispatch_id} settled",
        )

    async def deliveries(self, dispatch_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/dispatches/{dispatch_id}/deliveries")
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def mails_to(self, address: str) -> list[Any]:
        return [mail for mail in self.sink.received if address in mail.rcpt_tos]


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
    async with running_stack(settings, devdb, sink, database, inbox=inbox) as stack:
        yield stack


@asynccontextmanager
async def running_stack(
    settings: Settings,
    devdb: DevDatabase,
    sink: SmtpSink,
    database: str,
    *,
    inbox: bool = False,
    session: bool = False,
) -> AsyncIterator[Stack]:
    """The running parts of a Stack on ``settings``: broker, actors, dramatiq Worker, runtime, test client.

    ``session``: the session stack's, whose broker is dramatiq's global one and keeps its AsyncIO
    middleware, and whose database is kept at the end; any other runs on the Worker's event-loop thread
    already running, if there is one (the module docstring), and drops ``database`` at the end.
    """
    broker = create_broker(settings.env.redis_url)
    if session:
        dramatiq.set_broker(broker)
    elif get_event_loop_thread() is not None:
        broker.middleware[:] = [m for m in broker.middleware if not isinstance(m, AsyncIO)]
    actors = declare_actors(broker, settings, sweep_interval=None, inbox=inbox)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    await asyncio.to_thread(worker.start)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
    runtime = actors.new_runtime()
    try:
        async with AsyncTestClient(create_app(actors)) as client:
            yield Stack(settings, actors, client, mongo[database], sink, runtime, worker)
    finally:
        await asyncio.to_thread(worker.stop)
        # the runtime before the broker: a loop of it still running could hand deliveries over after
        # the broker's close, through a new Redis connection that only the garbage collector would close
        # (its socket first, warning in whatever test runs then)
        await runtime.close()
        broker.close()
        if not session:
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
