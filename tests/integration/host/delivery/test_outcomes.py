"""Each scripted provider error ends in the right state with the right attempts, seen through the status API.

Twilio 21211 fails at once; 429 + Retry-After waits at least that long; 5xx retries; a push subscription
reported gone fails at once, is marked expired on the user, and later sends skip it with a clear failure.
A provider answering 4xx to 30% of messages gets every one delivered through retries; a 5xx fails at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import pytest

from host.storage.devdb import DevDatabase
from tests.fakes.push import PushService
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio, ScriptedResponse
from tests.services import RedisServer
from tests.support.channel_users import phone_for
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack

SMS: dict[str, Any] = {"channels": ["sms"], "messageTitle": "T", "messageContent": "Hello"}


@pytest.fixture(autouse=True)
def _no_leftover_script(fake_twilio: FakeTwilio) -> None:
    fake_twilio.script([])  # scripts are consumed by the test that sets them; nothing to clear


async def sms_to_new_user(stack: Stack, unique: Callable[[str], str]) -> tuple[str, str]:
    uid = unique("sms")
    phone = phone_for(uid)
    await stack.add_users({"fiscalCode": uid, "phoneNumber": phone, "groups": []})
    return uid, phone


async def only_delivery(stack: Stack, dispatch_id: str, channel: str) -> dict[str, Any]:
    response = await stack.client.get(f"/dispatches/{dispatch_id}/deliveries", params={"channel": channel})
    assert response.status_code == 200, response.text
    [delivery] = response.json()["items"]
    return delivery  # type: ignore[no-any-return]


async def attempts_of(stack: Stack, delivery_id: str) -> list[dict[str, Any]]:
    cursor = stack.db["attempts"].find({"delivery_id": delivery_id}).sort("number", 1)
    return await cursor.to_list(None)


def check_timestamps(delivery: dict[str, Any]) -> None:
    created, updated = (datetime.fromisoformat(delivery[k]) for k in ("createdAt", "updatedAt"))
    assert created <= updated
    if delivery["status"] == "sent":
        assert created <= datetime.fromisoformat(delivery["sentAt"]) <= updated
    else:
        assert delivery.get("sentAt") is None


async def test_invalid_number_21211_fails_after_one_attempt(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    uid, phone = await sms_to_new_user(stack, unique)
    fake_twilio.invalid_numbers.add(phone)
    result = await stack.send({**SMS, "recipients": [uid]})
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"sms": {"failed": 1}}
    delivery = await only_delivery(stack, result["dispatchId"], "sms")
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["lastError"]["channel"] == "sms"
    assert delivery["lastError"]["code"] == "21211"
    assert "invalid 'To'" in delivery["lastError"]["message"]
    assert delivery.get("providerId") is None
    check_timestamps(delivery)
    [attempt] = await attempts_of(stack, delivery["id"])
    assert attempt["outcome"] == "failed"


async def test_429_is_retried_no_sooner_than_retry_after(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    uid, phone = await sms_to_new_user(stack, unique)
    fake_twilio.script([ScriptedResponse(429, retry_after="1")])
    result = await stack.send({**SMS, "recipients": [uid]})
    await stack.wait_settled(result["dispatchId"])
    delivery = await only_delivery(stack, result["dispatchId"], "sms")
    assert delivery["status"] == "sent"
    assert delivery["attempts"] == 2
    assert delivery["lastError"] is None
    check_timestamps(delivery)
    first, second = await attempts_of(stack, delivery["id"])
    assert (first["outcome"], first["error"]["code"]) == ("retry", "20429")
    assert second["outcome"] == "sent"
    assert (second["started_at"] - first["started_at"]).total_seconds() >= 1.0
    assert [m.sid for m in fake_twilio.messages if m.to == phone] == [delivery["providerId"]]


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_retried(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio, status: int
) -> None:
    uid, _ = await sms_to_new_user(stack, unique)
    fake_twilio.script([status])
    result = await stack.send({**SMS, "recipients": [uid]})
    await stack.wait_settled(result["dispatchId"])
    delivery = await only_delivery(stack, result["dispatchId"], "sms")
    assert (delivery["status"], delivery["attempts"]) == ("sent", 2)
    first, _ = await attempts_of(stack, delivery["id"])
    assert (first["outcome"], first["error"]["code"]) == ("retry", str(20000 + status))


async def test_5xx_every_time_fails_after_max_attempts(
    stack: Stack, unique: Callable[[str], str], fake_twilio: FakeTwilio
) -> None:
    uid, phone = await sms_to_new_user(stack, unique)
    max_attempts = stack.settings.config.delivery.max_attempts
    fake_twilio.script([503] * max_attempts)
    result = await stack.send({**SMS, "recipients": [uid]})
    await stack.wait_settled(result["dispatchId"])
    delivery = await only_delivery(stack, result["dispatchId"], "sms")
    assert (delivery["status"], delivery["attempts"]) == ("failed", max_attempts)
    assert f"gave up after {max_attempts} attempts" in delivery["lastError"]["message"]
    check_timestamps(delivery)
    outcomes = [a["outcome"] for a in await attempts_of(stack, delivery["id"])]
    assert outcomes == ["retry"] * (max_attempts - 1) + ["failed"]
    assert not [m for m in fake_twilio.messages if m.to == phone]


async def test_gone_push_subscription_fails_at_once_and_is_skipped_later(
    stack: Stack, unique: Callable[[str], str], push_service: PushService, vapid_keys: tuple[str, str]
) -> None:
    uid = unique("gone")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    await stack.add_users(
        {"fiscalCode": uid, "mail": f"{uid}@example.org", "deviceToken": subscription, "groups": []}
    )
    push_service.unsubscribe(subscription)  # the push service answers 410 from now on
    body = {"channels": ["push", "email"], "recipients": [uid], "messageTitle": "T", "messageContent": "C"}

    first = await stack.send(body)
    assert first["failures"] == []
    view = await stack.wait_settled(first["dispatchId"])
    assert view["counts"] == {"push": {"failed": 1}, "email": {"sent": 1}}
    delivery = await only_delivery(stack, first["dispatchId"], "push")
    assert (delivery["attempts"], delivery["lastError"]["code"]) == (1, "410")
    check_timestamps(delivery)
    user = await stack.db["users"].find_one({"fiscalCode": uid})
    assert user is not None
    expired = user["deviceTokenExpired"]
    assert expired["code"] == "410"
    assert expired["address"] == stack.runtime.registry["push"].parse_address(subscription)
    assert user["deviceToken"] == subscription  # the address itself is left as it was

    second = await stack.send(body)
    [failure] = second["failures"]
    assert (failure["userId"], failure["channel"]) == (uid, "push")
    assert "expired" in failure["error"] and "410" in failure["error"]
    view = await stack.wait_settled(second["dispatchId"])
    assert view["counts"] == {"push": {"skipped": 1}, "email": {"sent": 1}}
    skipped = await only_delivery(stack, second["dispatchId"], "push")
    assert (skipped["attempts"], skipped["lastError"]["code"]) == (0, "address-expired")
    subscription_id = subscription["endpoint"].rsplit("/", 1)[-1]
    assert [r.status for r in push_service.received if r.subscription_id == subscription_id] == [410]

    # a new subscription written to the field is used again at once
    fresh = push_service.subscribe(application_server_key=vapid_keys[1])
    await stack.db["users"].update_one({"fiscalCode": uid}, {"$set": {"deviceToken": fresh}})
    third = await stack.send(body)
    assert third["failures"] == []
    view = await stack.wait_settled(third["dispatchId"])
    assert view["counts"]["push"] == {"sent": 1}
    assert len(push_service.delivered(fresh)) == 1


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


async def test_smtp_4xx_is_retried_and_5xx_fails_at_once(stack: Stack, unique: Callable[[str], str]) -> None:
    retried, refused = unique("retried"), unique("refused")
    await stack.add_users({"fiscalCode": retried, "mail": f"{retried}@example.org"})
    stack.sink.script(["451 4.3.0 try again later"])
    first = await stack.send(
        {"channels": ["email"], "recipients": [retried], "messageTitle": "t", "messageContent": "c"}
    )
    view = await stack.wait_settled(first["dispatchId"])
    assert view["counts"]["email"] == {"sent": 1}
    [delivery] = await stack.deliveries(first["dispatchId"])
    assert delivery["attempts"] == 2
    assert len(stack.mails_to(f"{retried}@example.org")) == 1

    await stack.add_users({"fiscalCode": refused, "mail": f"{refused}@example.org"})
    stack.sink.script(["554 5.7.1 rejected by policy"])
    second = await stack.send(
        {"channels": ["email"], "recipients": [refused], "messageTitle": "t", "messageContent": "c"}
    )
    view = await stack.wait_settled(second["dispatchId"])
    assert view["counts"]["email"] == {"failed": 1}
    [delivery] = await stack.deliveries(second["dispatchId"])
    assert delivery["attempts"] == 1
    assert delivery["lastError"]["code"] == "smtp-554"
    assert "rejected by policy" in delivery["lastError"]["message"]
    attempts = await stack.db["attempts"].find({"delivery_id": delivery["id"]}).to_list(None)
    assert [a["outcome"] for a in attempts] == ["failed"]
