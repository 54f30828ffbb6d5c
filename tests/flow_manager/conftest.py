"""A Tidings stack with the Flow Manager integration configured, and the fake Flow Manager it posts to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from host.storage.devdb import DevDatabase
from tests.conftest import BASE_CONFIG, Stack
from tests.fakes.flow_manager import FlowManager
from tests.fakes.smtp import SmtpSink, free_port
from tests.services import RedisServer
from tests.stacks import open_stack

SUCCESS, FAIL = "messages_sent", "messages_failed"


@pytest.fixture(scope="module")
def flow_manager_port() -> int:
    return free_port()


@pytest.fixture
def flow_manager(flow_manager_port: int) -> Iterator[FlowManager]:
    """A fresh Flow Manager on the port the stack is configured with (a test may stop it)."""
    with FlowManager(port=flow_manager_port) as fake:
        yield fake


@pytest.fixture(scope="module")
async def saga_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
    flow_manager_port: int,
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("saga-stack"),
        devdb,
        redis_server,
        smtp_sink,
        {**BASE_CONFIG, "flowManager": {"successEventLabel": SUCCESS, "failEventLabel": FAIL}},
        database="tidings_saga",
        session_stack=stack,
        redis_db=2,
        FLOW_MANAGER_URL=f"http://127.0.0.1:{flow_manager_port}",
    ) as saga:
        yield saga
