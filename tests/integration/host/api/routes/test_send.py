"""POST /send refuses bad input with a 400 in Mia's error shape, naming the field; ``?wait=N`` holds the
answer until the dispatch settles (or time is up), with provider failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.twilio import FakeTwilio, ScriptedResponse
from tests.support.channel_users import phone_for
from tests.support.stacks import Stack

VALID: dict[str, Any] = {
    "channels": ["email"],
    "recipients": ["nobody"],
    "messageTitle": "t",
    "messageContent": "c",
}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != key}


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (without("channels"), "channels"),
        ({**VALID, "channels": []}, "channels"),
        ({**VALID, "channels": ["email", "fax"]}, "channels[1]: channel 'fax' is not active"),
        ({**VALID, "channels": ["fax"]}, "channels[0]"),
        (without("recipients"), "recipients, clusters"),
        ({**VALID, "recipients": [], "clusters": []}, "recipients, clusters"),
        (without("messageTitle"), "messageTitle"),
        (without("messageContent"), "messageContent"),
        ({**VALID, "channels": "email"}, "channels"),
        ({**VALID, "recipients": [1, 2]}, "recipients"),
        ({**VALID, "data": "x"}, "data"),
        ({**VALID, "emailCarbonCopies": "a@b.c"}, "emailCarbonCopies"),
        ({**VALID, "emailAttachments": ["a.pdf"]}, "no file service is configured"),
        ({**VALID, "emailSender": "not an address"}, "emailSender"),
        ({**without("messageTitle"), "templateId": "64b7f0c2a1b2c3d4e5f60718"}, "templateId"),
        ({**VALID, "priority": "urgent"}, "priority: Invalid enum value 'urgent'"),
        ({**VALID, "priority": 1}, "priority"),
    ],
)
async def test_bad_bodies_get_400_naming_the_field(stack: Stack, body: dict[str, Any], mentions: str) -> None:
    response = await stack.client.post("/send", json=body)
    expected = 404 if "templateId" in body else 400
    assert response.status_code == expected, response.text
    error = response.json()
    assert set(error) == {"statusCode", "error", "message"}
    assert error["statusCode"] == str(expected)
    assert error["error"] == ("Bad request" if expected == 400 else "Not found")
    assert mentions in error["message"]


async def test_malformed_json_is_a_400_in_the_error_shape(stack: Stack) -> None:
    response = await stack.client.post(
        "/send", content=b'{"channels": ["email"', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] == "400"
    assert response.json()["error"] == "Bad request"


async def test_unknown_fields_are_accepted_and_ignored(stack: Stack) -> None:
    response = await stack.client.post("/send", json={**VALID, "priority": "high", "futureField": {"a": 1}})
    assert response.status_code == 200, response.text
    assert response.json()["failures"] == [
        {"userId": "nobody", "channel": "email", "error": "no user with id 'nobody'"}
    ]


async def test_wait_reports_provider_failures_once_settled(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    good, bad, ghost = unique("good"), unique("bad"), unique("ghost")
    fake_twilio.invalid_numbers.add(phone_for(bad))
    await stack.add_users(
        {"fiscalCode": good, "phoneNumber": phone_for(good), "mail": f"{good}@example.org", "groups": []},
        {"fiscalCode": bad, "phoneNumber": phone_for(bad), "mail": f"{bad}@example.org", "groups": []},
    )
    response = await stack.client.post(
        "/send?wait=20",
        json={
            "channels": ["sms", "email"],
            "recipients": [good, bad, ghost],
            "messageTitle": "T",
            "messageContent": "Hello",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    failures = {(f["userId"], f["channel"]): f["error"] for f in body["failures"]}
    assert set(failures) == {(ghost, "sms"), (ghost, "email"), (bad, "sms")}
    assert "invalid 'To'" in failures[(bad, "sms")] and "21211" in failures[(bad, "sms")]
    # the answer came after settlement: nothing is left to wait for
    view = (await stack.client.get(f"/dispatches/{body['dispatchId']}")).json()
    assert view["settled"] is True
    assert view["counts"] == {
        "sms": {"sent": 1, "failed": 1, "skipped": 1},
        "email": {"sent": 2, "skipped": 1},
    }


async def test_wait_ends_when_time_is_up(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    uid = unique("slow")
    await stack.add_users({"fiscalCode": uid, "phoneNumber": phone_for(uid), "groups": []})
    fake_twilio.script([ScriptedResponse(429, retry_after="3")])
    response = await stack.client.post(
        "/send",
        params={"wait": "0.3"},
        json={"channels": ["sms"], "recipients": [uid], "messageTitle": "T", "messageContent": "Hi"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["failures"] == []  # a delivery waiting for its retry is not a failure
    view = (await stack.client.get(f"/dispatches/{body['dispatchId']}")).json()
    assert view["settled"] is False
    view = await stack.wait_settled(body["dispatchId"])
    assert view["counts"] == {"sms": {"sent": 1}}


@pytest.mark.parametrize("wait", ["31", "-1", "soon"])
async def test_wait_is_bounded(stack: Stack, wait: str) -> None:
    response = await stack.client.post(
        "/send",
        params={"wait": wait},
        json={"channels": ["email"], "recipients": ["x"], "messageTitle": "T", "messageContent": "C"},
    )
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"statusCode", "error", "message"}
    assert "wait" in error["message"]


#: the probe's payload: ~250 KB of expressions, four seconds of compiling on the event loop before
PROBE_TEMPLATE = "{{a.b.c.d}}" * 23000


@pytest.mark.parametrize("syntax", ["handlebars", "jinja"])
async def test_a_message_over_the_compile_budget_is_refused_naming_the_field(
    stack: Stack, syntax: str, unique: Callable[[str], str]
) -> None:
    body = {
        "channels": ["email"],
        "recipients": ["nobody"],
        "messageTitle": "Hi",
        "messageContent": PROBE_TEMPLATE,
    }
    if syntax == "jinja":  # inline messages are Handlebars by default: Jinja through a template
        made = await stack.client.post(
            "/templates",
            json={"name": unique("small"), "syntax": "jinja", "emailTitle": "t", "emailMessage": "m"},
        )
        assert made.status_code == 201, made.text
        await stack.db["templates"].update_one(
            {"name": made.json()["name"]}, {"$set": {"email_message": PROBE_TEMPLATE}}
        )
        body = {"channels": ["email"], "recipients": ["nobody"], "templateId": made.json()["id"]}
    response = await stack.client.post("/send", json=body)
    assert response.status_code == 400, response.text[:300]
    field = "messageContent" if syntax == "handlebars" else "emailMessage"
    assert response.json()["message"].startswith(f"{field}: "), response.json()
    assert "23000 tags" in response.json()["message"]


async def test_the_priority_asked_for_is_the_dispatchs_lane(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("lane")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    for priority in ("high", "normal", "bulk"):
        dispatch_id = (await stack.send({**VALID, "recipients": [uid], "priority": priority}))["dispatchId"]
        view = await stack.wait_settled(dispatch_id)
        [delivery] = await stack.deliveries(dispatch_id)
        assert (view["priority"], delivery["priority"], delivery["status"]) == (priority, priority, "sent")
    payload = {**VALID, "recipients": [uid], "priority": "high"}
    saga = await stack.client.post(
        "/saga/send", json={"key": unique("saga"), "value": {"messageLabel": "m", "messagePayload": payload}}
    )
    assert saga.status_code == 200, saga.text
    [stored] = await stack.db["dispatches"].find({"recipients": uid, "saga_id": {"$ne": None}}).to_list(None)
    assert stored["priority"] == "high"
