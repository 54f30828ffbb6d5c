"""POST /saga/send against a local Flow Manager: the answer, the event, and a Flow Manager that is down."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from host.events.flow_manager import FlowManagerNotifier
from host.runtime.logs import TextFormatter
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.flow_manager import FlowManager
from tests.fakes.smtp import SmtpSink, free_port
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.mia_documents import mia_configuration_json
from tests.support.stacks import Stack, open_stack
from tests.support.waiting import eventually

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
    """A Tidings stack with the Flow Manager integration configured (it posts to the fake above)."""
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


def _command(saga_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"key": saga_id, "value": {"messageLabel": "send_message", "messagePayload": payload}}


async def _events(fake: FlowManager, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
    return await eventually(
        lambda: fake.events,
        until=lambda events: len(events) >= count,
        timeout=timeout,
        interval=0.02,
        what=f"{count} event(s) at the Flow Manager",
    )


async def test_success_answers_empty_200_and_posts_the_success_event(
    saga_stack: Stack, flow_manager: FlowManager, unique: Callable[[str], str]
) -> None:
    uid, saga_id = unique("ugo"), unique("saga")
    await saga_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "name": "Ugo"})
    response = await saga_stack.client.post(
        "/saga/send",
        json=_command(
            saga_id,
            {
                "channels": ["email"],
                "recipients": [uid],
                "messageTitle": "Hi",
                "messageContent": "Hi {{user.name}}",
            },
        ),
    )
    assert response.status_code == 200
    assert response.content == b""
    assert await _events(flow_manager) == [
        {"key": saga_id, "value": {"messageLabel": SUCCESS, "messagePayload": {}}}
    ]
    dispatch = await saga_stack.db["dispatches"].find_one({"saga_id": saga_id})
    assert dispatch is not None
    await saga_stack.wait_settled(dispatch["_id"])
    [mail] = saga_stack.mails_to(f"{uid}@example.org")
    assert mail.message.get_content().strip() == "Hi Ugo"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"recipients": ["x"], "messageTitle": "t", "messageContent": "c"}, "channels"),
        ({"channels": ["sms"], "recipients": ["x"], "messageTitle": "t", "messageContent": "c"}, "channels"),
        ({"channels": ["email"], "recipients": ["x"], "templateId": "no-such-template"}, "templateId"),
    ],
)
async def test_a_bad_payload_answers_4xx_and_posts_the_fail_event(
    saga_stack: Stack,
    flow_manager: FlowManager,
    unique: Callable[[str], str],
    payload: dict[str, Any],
    field: str,
) -> None:
    saga_id = unique("saga")
    response = await saga_stack.client.post("/saga/send", json=_command(saga_id, payload))
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["statusCode"] == str(response.status_code)
    assert body["error"] and field in body["message"]
    assert await _events(flow_manager) == [
        {"key": saga_id, "value": {"messageLabel": FAIL, "messagePayload": {}}}
    ]


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'{"key": "s1", "value": 3}'])
async def test_a_malformed_command_answers_400_in_the_error_shape(
    saga_stack: Stack, flow_manager: FlowManager, raw: bytes
) -> None:
    response = await saga_stack.client.post(
        "/saga/send", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] == "400"
    if raw.startswith(b'{"key"'):
        assert (await _events(flow_manager))[0]["value"]["messageLabel"] == FAIL


async def test_the_flow_manager_down_still_answers_200_and_the_event_is_retried(
    saga_stack: Stack,
    flow_manager: FlowManager,
    flow_manager_port: int,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    flow_manager.stop()
    uid, saga_id = unique("vera"), unique("saga")
    await saga_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    with caplog.at_level(logging.WARNING, logger="host.events.flow_manager"):
        response = await saga_stack.client.post(
            "/saga/send",
            json=_command(
                saga_id,
                {"channels": ["email"], "recipients": [uid], "messageTitle": "t", "messageContent": "c"},
            ),
        )
        assert response.status_code == 200
        await eventually(
            lambda: any(saga_id in r.getMessage() for r in caplog.records),
            timeout=10,
            interval=0.02,
            what="a warning naming the saga",
        )
    assert "not delivered (attempt 1/" in caplog.text
    with FlowManager(port=flow_manager_port) as back_up:
        assert await _events(back_up) == [
            {"key": saga_id, "value": {"messageLabel": SUCCESS, "messagePayload": {}}}
        ]


async def test_a_refusing_flow_manager_gets_the_event_again(
    saga_stack: Stack, flow_manager: FlowManager, unique: Callable[[str], str]
) -> None:
    flow_manager.fail_next(2)
    uid, saga_id = unique("walt"), unique("saga")
    await saga_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    response = await saga_stack.client.post(
        "/saga/send",
        json=_command(
            saga_id, {"channels": ["email"], "recipients": [uid], "messageTitle": "t", "messageContent": "c"}
        ),
    )
    assert response.status_code == 200
    assert (await _events(flow_manager))[0]["key"] == saga_id
    assert flow_manager.refused == 2


async def test_a_key_holding_a_line_break_cannot_forge_a_log_line(
    saga_stack: Stack,
    flow_manager: FlowManager,
    flow_manager_port: int,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Flow Manager down, its warning names the key: written by the text formatter, one line each."""
    flow_manager.stop()
    forged = "1999-12-31 23:59:59,000 INFO host.api: admin logged in"
    saga_id = unique("saga") + "\n" + forged
    with caplog.at_level(logging.WARNING, logger="host.events.flow_manager"):
        response = await saga_stack.client.post(
            "/saga/send", json=_command(saga_id, {"channels": ["email"], "recipients": []})
        )
        assert response.status_code == 400
        await eventually(
            lambda: any(saga_id in r.getMessage() for r in caplog.records),
            timeout=10,
            interval=0.02,
            what="a warning naming the saga",
        )
    lines = [TextFormatter().format(r) for r in caplog.records if saga_id in r.getMessage()]
    assert lines and all("\n" not in line and "\\n" + forged in line for line in lines), lines
    with FlowManager(port=flow_manager_port) as back_up:  # the event still arrives, key and all
        assert (await _events(back_up))[0]["key"] == saga_id


# -- the events as Mia's configuration asks for them: each one only when its label is configured --


def notifier_for(tmp_path: Path, url: str, **labels: str) -> FlowManagerNotifier:
    config = json.loads(mia_configuration_json())
    saga = config["flowManagerConfiguration"]
    del saga["successEventLabel"], saga["failEventLabel"]
    saga.update(labels, serviceUrl=url)
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps(config))
    return FlowManagerNotifier(load_settings({"CONFIGURATION_PATH": str(path)}), first_delay=0.01)


async def test_the_service_url_receives_both_events_in_the_flow_managers_shape(tmp_path: Path) -> None:
    with FlowManager() as fake:
        notifier = notifier_for(tmp_path, fake.url, successEventLabel="sent", failEventLabel="failed")
        notifier.notify("saga-1", success=True)
        notifier.notify("saga-2", success=False)
        await notifier.drain()
        assert sorted(fake.events, key=lambda e: e["key"]) == [
            {"key": "saga-1", "value": {"messageLabel": "sent", "messagePayload": {}}},
            {"key": "saga-2", "value": {"messageLabel": "failed", "messagePayload": {}}},
        ]
        assert fake.rejected == []


async def test_an_event_without_its_label_is_not_sent(tmp_path: Path) -> None:
    with FlowManager() as fake:
        notifier = notifier_for(tmp_path, fake.url, successEventLabel="sent")
        notifier.notify("saga-3", success=False)  # no failEventLabel: Mia sends nothing
        notifier.notify("saga-4", success=True)
        await notifier.drain()
        assert fake.events == [{"key": "saga-4", "value": {"messageLabel": "sent", "messagePayload": {}}}]
