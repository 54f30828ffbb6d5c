"""POST /saga/send against a local Flow Manager: the answer, the event, and a Flow Manager that is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from host.runtime.logs import TextFormatter
from tests.conftest import Stack
from tests.fakes.flow_manager import FlowManager
from tests.flow_manager.conftest import FAIL, SUCCESS


def _command(saga_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"key": saga_id, "value": {"messageLabel": "send_message", "messagePayload": payload}}


async def _events(fake: FlowManager, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(fake.events) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} event(s) expected, got {fake.events}")
        await asyncio.sleep(0.02)
    return fake.events


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
        deadline = time.monotonic() + 10
        while not any(saga_id in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning logged"
            await asyncio.sleep(0.02)
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
        deadline = time.monotonic() + 10
        while not any(saga_id in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning logged"
            await asyncio.sleep(0.02)
    lines = [TextFormatter().format(r) for r in caplog.records if saga_id in r.getMessage()]
    assert lines and all("\n" not in line and "\\n" + forged in line for line in lines), lines
    with FlowManager(port=flow_manager_port) as back_up:  # the event still arrives, key and all
        assert (await _events(back_up))[0]["key"] == saga_id
