"""A provider answering 4xx to 30% of messages: all delivered through retries; a 5xx fails at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from host.storage.devdb import DevDatabase
from tests.conftest import BASE_CONFIG, Stack
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.stacks import open_stack

RECIPIENTS = 60


@pytest.fixture(scope="module")
async def flaky_stack(
    tmp_path_factory: pytest.TempPathFactory, devdb: DevDatabase, redis_server: RedisServer
) -> AsyncIterator[Stack]:
    config = {
        **BASE_CONFIG,
        "delivery": {"maxAttempts": 20, "minBackoffSeconds": 0.02, "maxBackoffSeconds": 0.1},
    }
    async with (
        SmtpSink(fail_ratio=0.3, seed=7) as sink,
        open_stack(
            tmp_path_factory.mktemp("flaky"),
            devdb,
            redis_server,
            sink,
            config,
            database="tidings_flaky",
            redis_db=7,
        ) as stack,
    ):
        yield stack


async def test_every_message_is_delivered_once_through_retries(
    flaky_stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("flaky")
    users = [
        {"fiscalCode": f"{group}-{i}", "mail": f"{group}-{i}@example.org", "groups": [group]}
        for i in range(RECIPIENTS)
    ]
    await flaky_stack.add_users(*users)

    result = await flaky_stack.send(
        {"channels": ["email"], "clusters": [group], "messageTitle": "Hi", "messageContent": "Hello"}
    )
    view = await flaky_stack.wait_settled(result["dispatchId"], timeout=60)

    assert view["counts"] == {"email": {"sent": RECIPIENTS}}
    arrived = Counter(rcpt for mail in flaky_stack.sink.received for rcpt in mail.rcpt_tos if group in rcpt)
    assert set(arrived) == {user["mail"] for user in users}
    assert set(arrived.values()) == {1}
    deliveries = await flaky_stack.deliveries(result["dispatchId"])
    assert any(d["attempts"] > 1 for d in deliveries), "a 30% failure rate should have caused retries"


async def test_a_permanent_refusal_fails_at_once_without_retry(
    flaky_stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("refused")
    address = f"{uid}@example.org"
    await flaky_stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    flaky_stack.sink.refuse(address)

    result = await flaky_stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "Hi", "messageContent": "Hello"}
    )
    view = await flaky_stack.wait_settled(result["dispatchId"])

    assert view["counts"] == {"email": {"failed": 1}}
    [delivery] = await flaky_stack.deliveries(result["dispatchId"])
    assert delivery["attempts"] == 1
    assert flaky_stack.mails_to(address) == []
