"""No secret in any log line at DEBUG: SMTP, Twilio, VAPID and database credentials, through a real send."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from host.runtime.logs import TEXT_FORMAT, JsonFormatter
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
