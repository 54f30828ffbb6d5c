"""Push through the whole service: one dispatch to a Web Push subscriber and an FCM device, FCM tokens that
expire, and FCM tokens on a deployment without FCM credentials (the session stack has VAPID only)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from host.storage.devdb import DevDatabase
from tests.conftest import BASE_CONFIG, Stack
from tests.fakes.fcm import FakeFcm, ScriptedFcm
from tests.fakes.push import PushService
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.stacks import open_stack

INTENT = "eu.tidings.test.OPEN"


@pytest.fixture(scope="module")
async def fcm() -> AsyncIterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture(scope="module")
async def push_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
    fcm: FakeFcm,
    vapid_keys: tuple[str, str],
) -> AsyncIterator[Stack]:
    """Tidings with both push providers configured: VAPID and a Firebase service account file."""
    folder = tmp_path_factory.mktemp("push-stack")
    account = folder / "google-credential.json"
    account.write_text(json.dumps(fcm.service_account("tidings-push")))
    config = {**BASE_CONFIG, "activeChannels": ["email", "push"], "androidIntentAction": INTENT}
    async with open_stack(
        folder,
        devdb,
        redis_server,
        smtp_sink,
        config,
        database="tidings_push",
        redis_db=12,
        session_stack=stack,
        VAPID_PRIVATE_KEY=vapid_keys[0],
        VAPID_SUBJECT="mailto:ops@tidings.test",
        GOOGLE_APPLICATION_CREDENTIALS=str(account),  # Mia's (Kafka2Firebase's) name for the account file
        FCM_API_BASE=fcm.url,
    ) as opened:
        yield opened


def user(uid: str, device_token: Any, name: str) -> dict[str, Any]:
    return {
        "fiscalCode": uid,
        "mail": f"{uid}@example.org",
        "name": name,
        "deviceToken": device_token,
        "groups": [],
    }


async def by_channel(stack: Stack, dispatch_id: str, channel: str) -> dict[str, dict[str, Any]]:
    return {d["userId"]: d for d in await stack.deliveries(dispatch_id) if d["channel"] == channel}


async def test_one_dispatch_reaches_a_browser_and_an_app(
    push_stack: Stack,
    push_service: PushService,
    fcm: FakeFcm,
    vapid_keys: tuple[str, str],
    unique: Callable[[str], str],
) -> None:
    browser, app = unique("browser"), unique("app")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    token = fcm.register_device()
    await push_stack.add_users(user(browser, subscription, "Bruna"), user(app, token, "Aldo"))
    template = {
        "name": unique("reminder"),
        "pushTitle": "Ciao {{ user.name }}",
        "pushSubtitle": "Promemoria",
        "pushMessage": "Visita il {{ data.day }}",
        "pushData": {
            "kind": "visit",
            "slot": 3,
            "android": {"priority": "high", "notification": {"channel_id": "visits"}},
            "apns": {"headers": {"apns-priority": "10"}},
        },
    }
    created = await push_stack.client.post("/templates", json=template)
    assert created.status_code == 201, created.text
    body = {
        "channels": ["push"],
        "recipients": [browser, app],
        "templateId": created.json()["id"],
        "data": {"day": "lunedì"},
    }
    result = await push_stack.send(body)
    assert result["failures"] == []
    view = await push_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"push": {"sent": 2}}

    [web] = push_service.delivered(subscription)
    assert web.json()["title"] == "Ciao Bruna" and web.json()["body"] == "Visita il lunedì"
    [native] = fcm.delivered(token)
    assert native.message == {
        "token": token,
        "notification": {"title": "Ciao Aldo", "body": "Visita il lunedì"},
        "data": {"kind": "visit", "slot": "3"},
        "android": {"priority": "high", "notification": {"channel_id": "visits", "click_action": INTENT}},
        "apns": {
            "headers": {"apns-priority": "10"},
            "payload": {"aps": {"alert": {"subtitle": "Promemoria"}}},
        },
    }
    deliveries = await by_channel(push_stack, result["dispatchId"], "push")
    assert deliveries[app]["providerId"] == native.name
    assert deliveries[browser]["providerId"].startswith(push_service.url)


async def test_an_unregistered_token_is_marked_expired_and_skipped_later(
    push_stack: Stack, fcm: FakeFcm, unique: Callable[[str], str]
) -> None:
    uid = unique("gone-app")
    token = fcm.register_device()
    await push_stack.add_users(user(uid, token, "Gina"))
    fcm.unregister(token)  # the app was uninstalled
    body = {"channels": ["push"], "recipients": [uid], "messageTitle": "T", "messageContent": "C"}

    first = await push_stack.send(body)
    view = await push_stack.wait_settled(first["dispatchId"])
    assert view["counts"] == {"push": {"failed": 1}}
    delivery = (await by_channel(push_stack, first["dispatchId"], "push"))[uid]
    assert (delivery["attempts"], delivery["lastError"]["code"]) == (1, "UNREGISTERED")
    stored = await push_stack.db["users"].find_one({"fiscalCode": uid})
    assert stored is not None
    assert (stored["deviceTokenExpired"]["address"], stored["deviceTokenExpired"]["code"]) == (
        token,
        "UNREGISTERED",
    )

    second = await push_stack.send(body)
    [failure] = second["failures"]
    assert (failure["userId"], failure["channel"]) == (uid, "push")
    assert "expired" in failure["error"]
    view = await push_stack.wait_settled(second["dispatchId"])
    assert view["counts"] == {"push": {"skipped": 1}}
    assert [r.status for r in fcm.received if r.body and r.token == token] == [404]


async def test_a_rate_limited_send_is_retried_after_retry_after(
    push_stack: Stack, fcm: FakeFcm, unique: Callable[[str], str]
) -> None:
    uid = unique("busy-app")
    token = fcm.register_device()
    await push_stack.add_users(user(uid, token, "Rita"))
    fcm.script([ScriptedFcm(429, retry_after="1")], device=token)
    result = await push_stack.send(
        {"channels": ["push"], "recipients": [uid], "messageTitle": "T", "messageContent": "C"}
    )
    view = await push_stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"push": {"sent": 1}}
    delivery = (await by_channel(push_stack, result["dispatchId"], "push"))[uid]
    assert delivery["attempts"] == 2
    refused, accepted = [r for r in fcm.received if r.body and r.token == token]
    assert (refused.status, accepted.status) == (429, 200)
    cursor = push_stack.db["attempts"].find({"delivery_id": delivery["id"]}).sort("number", 1)
    first, second = await cursor.to_list(None)
    assert (first["outcome"], first["error"]["code"], second["outcome"]) == (
        "retry",
        "QUOTA_EXCEEDED",
        "sent",
    )
    # the retry waited for Retry-After (1 s), not for the stack's 0.05 s backoff
    assert (second["started_at"] - first["started_at"]).total_seconds() >= 1.0


async def test_a_token_without_fcm_credentials_fails_for_that_user_only(
    stack: Stack, push_service: PushService, vapid_keys: tuple[str, str], unique: Callable[[str], str]
) -> None:
    browser, app = unique("web-only"), unique("no-fcm")
    subscription = push_service.subscribe(application_server_key=vapid_keys[1])
    await stack.add_users(user(browser, subscription, "Bea"), user(app, "cXk9:APA91b" + "x" * 140, "Ugo"))
    result = await stack.send(
        {"channels": ["push"], "recipients": [browser, app], "messageTitle": "T", "messageContent": "C"}
    )
    [failure] = result["failures"]
    assert (failure["userId"], failure["channel"]) == (app, "push")
    assert "FCM is not configured" in failure["error"] and "FCM_SERVICE_ACCOUNT_FILE" in failure["error"]
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"push": {"sent": 1, "failed": 1}}
    assert len(push_service.delivered(subscription)) == 1
    delivery = (await by_channel(stack, result["dispatchId"], "push"))[app]
    assert (delivery["status"], delivery["lastError"]["code"]) == ("failed", "fcm-not-configured")
