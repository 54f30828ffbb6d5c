"""Bounces and complaints in tests: a stack whose sink bounces mail back over SMTP, and what its tests share.

:func:`open_feedback` opens a Tidings stack with a bounce domain, its own SMTP sink (which sends DSNs and
abuse reports back), a bounce listener on the test's event loop, a fake SNS trusted for SES, and SendGrid
and Mailgun signing keys; the ``feedback`` fixture (tests/integration/conftest.py) holds one. The helpers
below make the deliveries and the mail the tests replay.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosmtplib
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from host.access.bounce_addresses import BounceAddresses
from host.feedback.listener import BounceListener
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.fakes.dsn import delivery_status_notification
from tests.fakes.smtp import SmtpSink
from tests.fakes.sns import FakeSns
from tests.fakes.webhook import WebhookReceiver
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG, TEST_SECRET_KEY
from tests.support.paths import FEEDBACK_SAMPLES
from tests.support.stacks import Stack, open_stack

__all__ = [
    "DOMAIN",
    "MAILGUN_KEY",
    "MAX_MESSAGE",
    "SAMPLES",
    "SOFT_LIMIT",
    "TOPIC",
    "VERP",
    "Feedback",
    "by_user",
    "delivery",
    "dsn_for",
    "events_of",
    "last_mail",
    "news",
    "open_feedback",
    "people",
    "sent_delivery",
    "smtp_to_listener",
]

TOPIC = "arn:aws:sns:eu-west-1:123456789012:tidings-feedback"
MAILGUN_KEY = "mailgun-signing-key-for-tests"
WEBHOOK_SECRET = "whsec-feedback-tests"
#: the bounce domain: the sender's, so VERP addresses are bounces+<token>@tidings.test
DOMAIN = "tidings.test"
SOFT_LIMIT = 2
MAX_MESSAGE = 200_000
#: the VERP addresses the feedback stack signs
VERP = BounceAddresses(TEST_SECRET_KEY, DOMAIN)
SAMPLES = FEEDBACK_SAMPLES


@dataclass
class Feedback:
    """The stack, its sink, its bounce listener and the providers' test keys."""

    stack: Stack
    sink: SmtpSink
    listener: BounceListener
    sns: FakeSns
    receiver: WebhookReceiver
    sendgrid_key: ec.EllipticCurvePrivateKey


@asynccontextmanager
async def open_feedback(
    data_dir: Path,
    devdb: DevDatabase,
    redis_server: RedisServer,
    session_stack: Stack,
    sns: FakeSns,
    receiver: WebhookReceiver,
) -> AsyncIterator[Feedback]:
    """A feedback stack on its own database and Redis db, its webhook events posted to ``receiver``."""
    sendgrid_key = ec.generate_private_key(ec.SECP256R1())
    public = sendgrid_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    config: dict[str, Any] = {
        **BASE_CONFIG,
        "sender": {"email": f"Tidings <noreply@{DOMAIN}>"},
        "webhooks": [{"url": receiver.url, "minBackoffSeconds": 0.05, "maxBackoffSeconds": 0.2}],
        "bounces": {
            "softBounces": {"limit": SOFT_LIMIT, "windowDays": 7},
            "maxMessageBytes": MAX_MESSAGE,
            "ses": {"certificateHosts": [sns.host], "topicArns": [TOPIC]},
        },
    }
    async with (
        SmtpSink() as sink,
        open_stack(
            data_dir,
            devdb,
            redis_server,
            sink,
            config,
            database="tidings_feedback",
            redis_db=10,
            session_stack=session_stack,
            TIDINGS_WEBHOOK_SECRET=WEBHOOK_SECRET,
            SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(public).decode(),
            MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY,
        ) as opened,
    ):
        listener = await opened.runtime.start_bounce_listener("127.0.0.1", 0)
        sink.reports_to = (listener.host, listener.port)
        yield Feedback(opened, sink, listener, sns, receiver, sendgrid_key)


async def people(stack: Stack, unique: Callable[[str], str], *names: str) -> dict[str, tuple[str, str]]:
    """A user per name: name → (user id, address). Ids of up to 16 bytes fit in a VERP token."""
    found = {name: (unique(name[:4]), f"{unique(name)}@example.org") for name in names}
    await stack.add_users(*({"fiscalCode": uid, "mail": mail, "groups": []} for uid, mail in found.values()))
    return found


async def by_user(stack: Stack, dispatch_id: str) -> dict[str, dict[str, Any]]:
    """The dispatch's deliveries as the API shows them, by user id."""
    return {d["userId"]: d for d in await stack.deliveries(dispatch_id)}


def news(*uids: str) -> dict[str, Any]:
    """A /send body: an e-mail to these users."""
    return {
        "channels": ["email"],
        "recipients": list(uids),
        "messageTitle": "News",
        "messageContent": "Hello",
    }


def events_of(receiver: WebhookReceiver, dispatch_id: str) -> dict[str, str]:
    """event id → type, of the posts about this dispatch's deliveries."""
    return {
        str(post.body["id"]): str(post.body["type"])
        for post in receiver.accepted()
        if post.body and str(post.body["id"]).startswith(dispatch_id)
    }


async def sent_delivery(
    stack: Stack, delivery_id: str, address: str, provider_id: str | None = None
) -> dict[str, Any]:
    """A delivery as the worker leaves it once its e-mail is sent (replacing one of the same id)."""
    dispatch_id, _, user_id = delivery_id.split(":", 2)
    now = utcnow()
    doc = {
        "_id": delivery_id,
        "dispatch_id": dispatch_id,
        "channel": "email",
        "user_id": user_id,
        "address": address,
        "status": "sent",
        "attempts": 1,
        "created_at": now,
        "updated_at": now,
        "sent_at": now,
        "provider_id": provider_id or f"<{user_id}@{DOMAIN}>",
    }
    await stack.db["deliveries"].replace_one({"_id": delivery_id}, doc, upsert=True)
    return doc


async def delivery(stack: Stack, delivery_id: str) -> dict[str, Any]:
    """The delivery document (it must exist)."""
    found = await stack.db["deliveries"].find_one({"_id": delivery_id})
    assert found is not None
    return found


async def smtp_to_listener(feedback: Feedback, rcpt_to: str, data: bytes) -> tuple[int, str]:
    """Deliver ``data`` to the bounce listener as an MTA does (null sender); (code, message) of DATA."""
    listener = feedback.listener
    async with aiosmtplib.SMTP(hostname=listener.host, port=listener.port, timeout=10) as client:
        await client.mail("")
        await client.rcpt(rcpt_to)
        response = await client.data(data)
    return response.code, response.message


async def last_mail(feedback: Feedback) -> dict[str, Any]:
    """The bounce listener's newest mail."""
    [doc] = await feedback.stack.runtime.bounce_mail.recent(limit=1)
    return doc


def dsn_for(recipient: str, status: str = "5.1.1") -> bytes:
    """A DSN saying mail to ``recipient`` failed with ``status``."""
    original = f"From: noreply@{DOMAIN}\r\nTo: {recipient}\r\nMessage-ID: <x@{DOMAIN}>\r\n\r\nHi\r\n".encode()
    return delivery_status_notification(
        original, mail_from="bounces@x", recipient=recipient, status=status, diagnostic=f"{status} no"
    )
