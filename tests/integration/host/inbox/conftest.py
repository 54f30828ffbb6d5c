"""A Tidings stack as ``tidings run`` wires it: every channel active, none configured, so all are captured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from host.storage.devdb import DevDatabase
from tests.fakes.files import FileService
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG, TWILIO_SENDER
from tests.support.stacks import Stack, open_stack

#: e-mail, SMS, voice and push, without a single provider variable: the inbox takes every message
INBOX_CONFIG: dict[str, Any] = {
    **BASE_CONFIG,
    "activeChannels": ["email", "sms", "voice", "push"],
    "sender": {"email": "Tidings <noreply@tidings.test>", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
    "userFields": {
        "id": "fiscalCode",
        "emailAddress": "mail",
        "phoneNumber": "phone",
        "deviceToken": "device",
        "clusters": "groups",
    },
    "androidIntentAction": "eu.tidings.test.OPEN",
}


@pytest.fixture(scope="module")
def files() -> Iterator[FileService]:
    with FileService() as service:
        yield service


@pytest.fixture(scope="module")
async def inbox_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    files: FileService,
    stack: Stack,
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("inbox-stack"),
        devdb,
        redis_server,
        smtp_sink,
        INBOX_CONFIG,
        database="tidings_inbox",
        session_stack=stack,
        redis_db=7,
        inbox=True,
        FILE_SERVICE_URL=files.url,
    ) as opened:
        yield opened
