"""Session-wide real services: the development database, Redis, an SMTP sink, and Tidings itself.

Tidings runs in-process (the ASGI app through Litestar's test client, a dramatiq Worker on the Redis
broker in threads); everything it talks to is a real server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from host.api.app import create_app
from host.plugins.registry import discover_channel_types
from host.runtime.actors import Actors, declare_actors
from host.runtime.broker import create_broker
from host.runtime.wiring import Runtime
from host.settings import Settings, load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.push import PushService, b64url
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import WebhookReceiver
from tests.services import RedisServer

BASE_CONFIG: dict[str, Any] = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.test"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "clusters": "groups"},
    "delivery": {"maxAttempts": 3, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2},
}

TWILIO_SENDER = "+15005550006"
#: TIDINGS_SECRET_KEY of the test stacks
TEST_SECRET_KEY = "test-secret-key-for-unsubscribe-links"
#: the third-party channel of tests/plugins/tidings-webhook, active when installed (scripts/test does)
WEBHOOK_INSTALLED = "webhook" in discover_channel_types()
#: the stack's configuration: every channel active (their variables come from channel_env); users keep
#: phone numbers and push subscriptions in the default fields, ``phoneNumber`` and ``deviceToken``
STACK_CONFIG: dict[str, Any] = {
    **BASE_CONFIG,
    "activeChannels": ["email", "sms", "voice", "push", *(["webhook"] if WEBHOOK_INSTALLED else [])],
    "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
    "androidIntentAction": "eu.tidings.test.OPEN",
}


@pytest.fixture(scope="session")
def devdb() -> Iterator[DevDatabase]:
    with DevDatabase() as database:
        yield database


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def vapid_keys() -> tuple[str, str]:
    """A VAPID key pair (private, public), unpadded base64url as VAPID_PRIVATE_KEY and subscriptions take."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), b64url(public)


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
    # API key checks off unless a test turns them on (tests/api/test_auth.py passes TIDINGS_API_AUTH="on")
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

    async def wait_settled(self, dispatch_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the status API until every delivery is settled."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.client.get(f"/dispatches/{dispatch_id}")
            view: dict[str, Any] = response.json()
            if view["settled"]:
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"dispatch not settled in {timeout} s: {view}")
            await asyncio.sleep(0.05)

    async def deliveries(self, dispatch_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/dispatches/{dispatch_id}/deliveries")
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def mails_to(self, address: str) -> list[Any]:
        return [mail for mail in self.sink.received if address in mail.rcpt_tos]


@pytest.fixture(scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    fake_twilio: FakeTwilio,
    push_service: PushService,
    webhook_receiver: WebhookReceiver,
    vapid_keys: tuple[str, str],
) -> AsyncIterator[Stack]:
    settings = make_settings(
        tmp_path_factory.mktemp("stack"),
        devdb,
        STACK_CONFIG,
        REDIS_URL=redis_server.url,
        MONGODB_DATABASE="tidings_test",
        TIDINGS_AUTO_MIGRATE="1",  # the app refuses a database with pending migrations
        SMTP_HOST=smtp_sink.host,
        SMTP_PORT=str(smtp_sink.port),
        **channel_env(fake_twilio, vapid_keys, webhook_receiver),
    )
    broker = create_broker(settings.env.redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    await asyncio.to_thread(worker.start)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
    runtime = actors.new_runtime()
    try:
        async with AsyncTestClient(create_app(actors)) as client:
            yield Stack(settings, actors, client, mongo["tidings_test"], smtp_sink, runtime)
    finally:
        await asyncio.to_thread(worker.stop)
        broker.close()
        await runtime.close()
        await mongo.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to one test, so tests sharing the session database never see each other's data."""
    stamp = f"{time.monotonic_ns():x}"

    def make(prefix: str) -> str:
        return f"{prefix}-{stamp}"

    return make
