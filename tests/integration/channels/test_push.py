"""The push channel through the real pywebpush against a local push service that decrypts (fakes/push.py),
and push through the whole service: one dispatch to a Web Push subscriber and an FCM device, FCM tokens that
expire, and FCM tokens on a deployment without FCM credentials (the session stack has VAPID only)."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from py_vapid import Vapid

from channels.push import MAX_PAYLOAD, PushChannel
from host.errors import PermanentChannelError, TransientChannelError
from host.plugins.channel import Message
from host.storage.devdb import DevDatabase
from tests.fakes.fcm import FakeFcm, ScriptedFcm
from tests.fakes.push import PushService, ScriptedPush
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack
from tests.support.vapid import INTENT, SUBJECT, VapidKey, make_channel


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    with PushService() as running:
        yield running


@pytest.fixture(scope="module")
def vapid() -> VapidKey:
    return VapidKey()


@pytest.fixture
def channel(vapid: VapidKey) -> PushChannel:
    return make_channel(vapid.private)


async def push(channel: PushChannel, subscription: dict[str, Any], message: Message | None = None) -> str:
    message = message or Message(subject="Title", text="Body")
    async with channel.open() as sender:
        receipt = await sender.send(message, channel.parse_address(subscription))
    return receipt.provider_id


async def test_payload_arrives_decrypted(channel: PushChannel, service: PushService, vapid: VapidKey) -> None:
    subscription = service.subscribe(application_server_key=vapid.public)
    message = Message(subject="Promemoria", subtitle="Domani", text="Ciao Alice ✓", data={"id": 7, "k": [1]})
    provider_id = await push(channel, subscription, message)
    [received] = service.delivered(subscription)
    assert received.json() == {
        "title": "Promemoria",
        "subtitle": "Domani",
        "body": "Ciao Alice ✓",
        "data": {"id": 7, "k": [1]},
        "androidIntentAction": INTENT,
    }
    assert provider_id.startswith(f"{service.url}/message/")
    assert received.headers["ttl"] == "86400"
    assert received.claims is not None
    assert received.claims["aud"] == service.url
    assert received.claims["sub"] == SUBJECT
    assert received.vapid_key == vapid.public


async def test_each_push_service_gets_its_own_audience(channel: PushChannel, service: PushService) -> None:
    with PushService() as other:
        first, second = service.subscribe(), other.subscribe()
        async with channel.open() as sender:
            for subscription in (first, second, first):
                await sender.send(Message(subject="t", text="b"), channel.parse_address(subscription))
        [received] = other.delivered(second)
    assert received.claims is not None and received.claims["aud"] == other.url
    assert len(service.delivered(first)) == 2


async def test_pem_key_works_too(service: PushService, vapid: VapidKey) -> None:
    subscription = service.subscribe(application_server_key=vapid.public)
    await push(make_channel(vapid.pem, ttl=60), subscription)
    [received] = service.delivered(subscription)
    assert received.headers["ttl"] == "60"


async def test_gone_subscription_is_permanent_and_marked(channel: PushChannel, service: PushService) -> None:
    subscription = service.subscribe()
    service.unsubscribe(subscription)
    with pytest.raises(PermanentChannelError) as caught:
        await push(channel, subscription)
    assert caught.value.code == "410"
    assert caught.value.address_gone is True


async def test_404_is_gone_too(channel: PushChannel, service: PushService) -> None:
    subscription = service.subscribe()
    service.script([404], subscription=subscription)
    with pytest.raises(PermanentChannelError) as caught:
        await push(channel, subscription)
    assert caught.value.address_gone is True


async def test_rate_limit_is_transient_with_retry_after(channel: PushChannel, service: PushService) -> None:
    subscription = service.subscribe()
    service.script([ScriptedPush(429, retry_after="7")], subscription=subscription)
    with pytest.raises(TransientChannelError) as caught:
        await push(channel, subscription)
    assert caught.value.retry_after == 7.0
    await push(channel, subscription)  # the script is used up: the next one goes through


async def test_server_error_is_transient(channel: PushChannel, service: PushService) -> None:
    subscription = service.subscribe()
    service.script([500, 503])
    for _ in range(2):
        with pytest.raises(TransientChannelError) as caught:
            await push(channel, subscription)
        assert caught.value.retry_after is None


async def test_other_client_errors_are_permanent_not_gone(channel: PushChannel, service: PushService) -> None:
    subscription = service.subscribe()
    service.script([400], subscription=subscription)
    with pytest.raises(PermanentChannelError) as caught:
        await push(channel, subscription)
    assert caught.value.code == "400"
    assert caught.value.address_gone is False


async def test_wrong_vapid_key_is_refused(service: PushService, vapid: VapidKey) -> None:
    subscription = service.subscribe(application_server_key=vapid.public)
    intruder = make_channel(VapidKey().private)
    with pytest.raises(PermanentChannelError) as caught:
        await push(intruder, subscription)
    assert caught.value.code == "403"
    assert service.received[-1].reason.startswith("VAPID key differs")
    assert service.delivered(subscription) == []


async def test_service_refuses_forged_or_missing_vapid(service: PushService, vapid: VapidKey) -> None:
    subscription = service.subscribe()
    claims = {"aud": service.url, "exp": int(time.time()) + 600, "sub": SUBJECT}
    token = Vapid.from_string(vapid.private).sign(claims)["Authorization"].split(" ", 1)[1]
    jwt = token.split(",")[0].removeprefix("t=")
    forged = f"vapid t={jwt}, k={VapidKey().public}"  # signed by one key, claiming another
    wrong_audience = Vapid.from_string(vapid.private).sign(claims | {"aud": "https://push.example"})
    async with aiohttp.ClientSession() as session:
        statuses = []
        for headers in ({"Authorization": forged}, {}, wrong_audience):
            async with session.post(subscription["endpoint"], data=b"", headers={"TTL": "0", **headers}) as r:
                statuses.append(r.status)
    assert statuses == [401, 401, 403]


async def test_oversized_payload_is_permanent_and_not_sent(
    channel: PushChannel, service: PushService
) -> None:
    subscription = service.subscribe()
    with pytest.raises(PermanentChannelError) as caught:
        await push(channel, subscription, Message(subject="t", text="x" * MAX_PAYLOAD))
    assert caught.value.code == "payload-too-large"
    assert service.delivered(subscription) == []


async def test_unreachable_service_is_transient(channel: PushChannel, service: PushService) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscription = service.subscribe() | {"endpoint": f"http://127.0.0.1:{port}/push/x"}
    with pytest.raises(TransientChannelError):
        await push(channel, subscription)


def test_parse_address_canonicalises(service: PushService, channel: PushChannel) -> None:
    subscription = service.subscribe()
    expected = json.dumps(
        {"endpoint": subscription["endpoint"], "keys": subscription["keys"]}, separators=(",", ":")
    )
    assert channel.parse_address(subscription) == expected
    assert channel.parse_address(json.dumps(subscription, indent=2)) == expected
    # standard base64 with padding, as some clients store keys, means the same keys
    keys = {
        name: base64.b64encode(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))).decode()
        for name, value in subscription["keys"].items()
    }
    assert channel.parse_address(subscription | {"keys": keys}) == expected


# --- through the whole service ---------------------------------------------------------------------------

#: the Android intent action of the push stack (the channel tests above use INTENT)
STACK_INTENT = "eu.tidings.test.OPEN"


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
    config = {**BASE_CONFIG, "activeChannels": ["email", "push"], "androidIntentAction": STACK_INTENT}
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
        "android": {
            "priority": "high",
            "notification": {"channel_id": "visits", "click_action": STACK_INTENT},
        },
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
