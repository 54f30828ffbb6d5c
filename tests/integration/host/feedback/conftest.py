"""A Tidings stack for bounces and complaints: its own SMTP sink (which bounces mail back over SMTP), a bounce
listener on the test's event loop, a fake SNS, and SendGrid and Mailgun signing keys.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from host.feedback.listener import BounceListener
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.fakes.sns import FakeSns
from tests.fakes.webhook import WebhookReceiver
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack

TOPIC = "arn:aws:sns:eu-west-1:123456789012:tidings-feedback"
MAILGUN_KEY = "mailgun-signing-key-for-tests"
WEBHOOK_SECRET = "whsec-feedback-tests"
DOMAIN = "tidings.test"
SOFT_LIMIT = 2
MAX_MESSAGE = 200_000


@dataclass
class Feedback:
    """The stack, its sink, its bounce listener and the providers' test keys."""

    stack: Stack
    sink: SmtpSink
    listener: BounceListener
    sns: FakeSns
    receiver: WebhookReceiver
    sendgrid_key: ec.EllipticCurvePrivateKey


@pytest.fixture(scope="package")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="package")
def fake_sns() -> Iterator[FakeSns]:
    with FakeSns() as sns:
        yield sns


@pytest.fixture(scope="package")
def feedback_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="package")
async def feedback(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    stack: Stack,
    fake_sns: FakeSns,
    feedback_receiver: WebhookReceiver,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> AsyncIterator[Feedback]:
    public = sendgrid_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    config: dict[str, Any] = {
        **BASE_CONFIG,
        "sender": {"email": f"Tidings <noreply@{DOMAIN}>"},
        "webhooks": [{"url": feedback_receiver.url, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2}],
        "bounces": {
            "softBounces": {"limit": SOFT_LIMIT, "windowDays": 7},
            "maxMessageBytes": MAX_MESSAGE,
            "ses": {"certificateHosts": [fake_sns.host], "topicArns": [TOPIC]},
        },
    }
    async with (
        SmtpSink() as sink,
        open_stack(
            tmp_path_factory.mktemp("feedback-stack"),
            devdb,
            redis_server,
            sink,
            config,
            database="tidings_feedback",
            redis_db=10,
            session_stack=stack,
            TIDINGS_WEBHOOK_SECRET=WEBHOOK_SECRET,
            SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(public).decode(),
            MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY,
        ) as opened,
    ):
        listener = await opened.runtime.start_bounce_listener("127.0.0.1", 0)
        sink.reports_to = (listener.host, listener.port)
        yield Feedback(opened, sink, listener, fake_sns, feedback_receiver, sendgrid_key)
