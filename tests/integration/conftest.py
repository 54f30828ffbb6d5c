"""Session-wide real services: the development database, Redis, an SMTP sink, the fakes, and Tidings itself.

Tidings runs in-process (the ASGI app through Litestar's test client, a dramatiq Worker on the Redis
broker in threads: tests.support.stacks); everything it talks to is a real server on 127.0.0.1. The
fixtures below start on first use and are shared as their scope says; unit tests see none of them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from host.storage.devdb import DevDatabase
from tests.fakes.kaleyra import FakeKaleyra
from tests.fakes.push import PushService, b64url
from tests.fakes.smtp import SmtpSink
from tests.fakes.sns import FakeSns
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import WebhookReceiver
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG, STACK_CONFIG, TWILIO_SENDER
from tests.support.events import CALLBACK_URL, PUBLIC_URL, SECRET
from tests.support.feedback import Feedback, open_feedback
from tests.support.stacks import Stack, channel_env, make_settings, open_stack, running_stack
from tests.support.twilio_numbers import INVALID, SENDER


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
    async with running_stack(settings, devdb, smtp_sink, "tidings_test", session=True) as running:
        yield running


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to one test, so tests sharing the session database never see each other's data."""
    stamp = f"{time.monotonic_ns():x}"

    def make(prefix: str) -> str:
        return f"{prefix}-{stamp}"

    return make


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[FakeTwilio]:
    """A Twilio fake of the module's own (the SMS, voice and provider tests), apart from the stack's."""
    with FakeTwilio(invalid_numbers={INVALID}) as running:
        yield running


@pytest.fixture
def fake(twilio_server: FakeTwilio) -> FakeTwilio:
    """The module's Twilio fake, with nothing received and nothing scripted."""
    twilio_server.reset()
    return twilio_server


@pytest.fixture(scope="module")
def kaleyra() -> Iterator[FakeKaleyra]:
    """A Kaleyra fake of the module's own, bridging the Twilio fake's number (the provider-type tests)."""
    with FakeKaleyra(bridges={SENDER.removeprefix("+")}) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver of the module's own (the session one serves the webhook channel plugin)."""
    with WebhookReceiver() as opened:
        yield opened


@pytest.fixture(scope="module")
async def events_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    fake_twilio: FakeTwilio,
    receiver: WebhookReceiver,
    stack: Stack,
) -> AsyncIterator[Stack]:
    """Tidings with signed webhooks to ``receiver`` and Twilio status callbacks (tests.support.events)."""
    config: dict[str, Any] = {
        **BASE_CONFIG,
        "activeChannels": ["email", "sms"],
        "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER},
        "userFields": {**BASE_CONFIG["userFields"], "phoneNumber": "phone"},
        "webhooks": [{"url": receiver.url, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2}],
    }
    async with open_stack(
        tmp_path_factory.mktemp("events-stack"),
        devdb,
        redis_server,
        smtp_sink,
        config,
        database="tidings_webhooks",
        redis_db=14,
        session_stack=stack,
        TIDINGS_WEBHOOK_SECRET=SECRET,
        TIDINGS_PUBLIC_URL=PUBLIC_URL,
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_API_BASE=fake_twilio.url,
        TWILIO_STATUS_CALLBACK=CALLBACK_URL,
    ) as opened:
        yield opened


@pytest.fixture(scope="module")
def fake_sns() -> Iterator[FakeSns]:
    """An SNS fake of the module's own: it signs SES notifications with a test certificate."""
    with FakeSns() as sns:
        yield sns


@pytest.fixture(scope="module")
async def feedback(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    stack: Stack,
    fake_sns: FakeSns,
    receiver: WebhookReceiver,
) -> AsyncIterator[Feedback]:
    """Tidings with a bounce domain, a sink that bounces mail back to its listener, SES, SendGrid and
    Mailgun webhooks configured, and signed webhooks to ``receiver`` (tests.support.feedback)."""
    async with open_feedback(
        tmp_path_factory.mktemp("feedback-stack"), devdb, redis_server, stack, fake_sns, receiver
    ) as opened:
        yield opened
