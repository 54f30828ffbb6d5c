"""A Tidings stack with a file service (the session stack has none) and the fake file service itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from host.storage.devdb import DevDatabase
from tests.conftest import BASE_CONFIG, Stack
from tests.fakes.files import FileService
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.stacks import open_stack


@pytest.fixture(scope="module")
def files() -> Iterator[FileService]:
    with FileService() as service:
        yield service


@pytest.fixture(scope="module")
async def files_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    files: FileService,
    stack: Stack,
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("files-stack"),
        devdb,
        redis_server,
        smtp_sink,
        BASE_CONFIG,
        database="tidings_attachments",
        session_stack=stack,
        redis_db=1,
        FILE_SERVICE_URL=files.url,
    ) as stack:
        yield stack
