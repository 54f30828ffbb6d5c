"""POST /send?wait=N holds the answer until the dispatch settles (or time is up), with provider failures."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Stack
from tests.fakes.twilio import FakeTwilio, ScriptedResponse
from tests.host.channel_users import phone_for


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
