"""The push channel's FCM provider through real google-auth and aiohttp against the FCM fake."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.push import PushChannel, PushConfig
from host.errors import ConfigurationError, InvalidAddress, PermanentChannelError, TransientChannelError
from host.plugins.channel import ChannelContext, Message
from host.plugins.registry import ChannelRegistry
from host.settings import load_service_config
from tests.fakes.fcm import GOOGLE_TOKEN_AUDIENCE, FakeFcm, ScriptedFcm
from tests.fakes.push import PushService

INTENT = "eu.example.OPEN"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@pytest.fixture(scope="module")
def fcm_server() -> Iterator[FakeFcm]:
    with FakeFcm() as running:
        yield running


@pytest.fixture
def fcm(fcm_server: FakeFcm) -> FakeFcm:
    """The module's FCM fake, with nothing received, issued or scripted."""
    fcm_server.reset()
    return fcm_server


def fcm_channel(fake: FakeFcm, account: dict[str, Any] | None = None, **config: Any) -> PushChannel:
    account = account or fake.service_account()
    return PushChannel(
        PushConfig(
            fcm_service_account_json=json.dumps(account), fcm_api_base=fake.url, fcm_timeout=5.0, **config
        ),
        ChannelContext(android_intent_action=INTENT),
    )


async def push(channel: PushChannel, token: str, message: Message | None = None) -> str:
    message = message or Message(subject="Title", text="Body")
    async with channel.open() as sender:
        receipt = await sender.send(message, channel.parse_address(token))
    assert receipt.provider == "fcm"
    return receipt.provider_id


async def test_message_arrives_with_notification_data_and_click_action(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    account = fcm.service_account("tidings-app")
    message = Message(
        subject="Promemoria", text="Ciao Alice ✓", data={"id": 7, "kind": "visit", "d": {"a": [1]}}
    )
    name = await push(fcm_channel(fcm, account), token, message)
    [received] = fcm.delivered(token)
    assert received.name == name and name.startswith("projects/tidings-app/messages/")
    assert received.message == {
        "token": token,
        "notification": {"title": "Promemoria", "body": "Ciao Alice ✓"},
        "data": {"id": "7", "kind": "visit", "d": '{"a":[1]}'},
        "android": {"notification": {"click_action": INTENT}},
    }
    [grant] = fcm.token_requests
    assert grant.claims is not None
    assert (grant.claims["iss"], grant.claims["aud"]) == (account["client_email"], GOOGLE_TOKEN_AUDIENCE)
    assert grant.claims["scope"] == FCM_SCOPE


async def test_android_and_apns_blocks_pass_through(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    data = {
        "android": {"priority": "high", "ttl": "60s", "notification": {"channel_id": "alerts"}},
        "apns": {"headers": {"apns-priority": "5"}, "payload": {"aps": {"badge": 3}}},
    }
    await push(fcm_channel(fcm), token, Message(subject="T", subtitle="Sub", text="B", data=data))
    [received] = fcm.delivered(token)
    assert "data" not in received.message
    assert received.message["android"] == {
        "priority": "high",
        "ttl": "60s",
        "notification": {"channel_id": "alerts", "click_action": INTENT},
    }
    assert received.message["apns"] == {
        "headers": {"apns-priority": "5"},
        "payload": {"aps": {"badge": 3, "alert": {"subtitle": "Sub"}}},
    }


async def test_a_template_click_action_wins_over_the_configured_one(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    data = {"android": {"notification": {"click_action": "eu.example.OTHER"}}}
    await push(fcm_channel(fcm), token, Message(subject="T", text="B", data=data))
    [received] = fcm.delivered(token)
    assert received.message["android"]["notification"] == {"click_action": "eu.example.OTHER"}


async def test_unregistered_token_is_gone(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    fcm.unregister(token)
    with pytest.raises(PermanentChannelError) as caught:
        await push(fcm_channel(fcm), token)
    assert (caught.value.code, caught.value.address_gone) == ("UNREGISTERED", True)
    assert fcm.received[-1].status == 404


async def test_a_token_fcm_never_issued_is_gone_too(fcm: FakeFcm) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await push(fcm_channel(fcm), "d1Ze-not-issued:APA91bXXXXXXXXXXXXXXXXXXXXXXXX")
    assert (caught.value.code, caught.value.address_gone) == ("INVALID_ARGUMENT", True)


async def test_a_refused_message_is_permanent_but_the_token_stays(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    with pytest.raises(PermanentChannelError) as caught:
        await push(fcm_channel(fcm), token, Message(subject="T", text="B", data={"from": "me"}))
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.address_gone is False
    assert "Invalid data payload key: from" in caught.value.message


async def test_quota_and_unavailable_are_transient_with_retry_after(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    fcm.script([ScriptedFcm(429, retry_after="7"), ScriptedFcm(503, retry_after="2"), 500], device=token)
    channel = fcm_channel(fcm)
    async with channel.open() as sender:
        errors = []
        for _ in range(3):
            with pytest.raises(TransientChannelError) as caught:
                await sender.send(Message(subject="T", text="B"), token)
            errors.append((caught.value.code, caught.value.retry_after))
        await sender.send(Message(subject="T", text="B"), token)  # the script is used up
    assert errors == [("QUOTA_EXCEEDED", 7.0), ("UNAVAILABLE", 2.0), ("INTERNAL", None)]
    assert len(fcm.delivered(token)) == 1


async def test_the_access_token_is_reused_until_it_expires(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    channel = fcm_channel(fcm)
    for _ in range(3):
        await push(channel, token)
    assert len(fcm.token_requests) == 1
    with FakeFcm(token_lifetime=60) as short:  # under google-auth's refresh threshold: stale at once
        device = short.register_device()
        channel = fcm_channel(short)
        for _ in range(2):
            await push(channel, device)
        assert [r.status for r in short.token_requests] == [200, 200]


async def test_a_refused_access_token_is_refreshed_once(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    channel = fcm_channel(fcm)
    await push(channel, token)
    fcm.revoke_tokens()
    await push(channel, token)
    assert [r.status for r in fcm.received] == [200, 401, 200]
    assert len(fcm.token_requests) == 2
    fcm.script([401, 401])
    with pytest.raises(PermanentChannelError) as caught:
        await push(channel, token)
    assert caught.value.code == "UNAUTHENTICATED"
    assert len(fcm.token_requests) == 3, "one refresh per send, not a loop"


async def test_a_key_the_token_endpoint_does_not_know_is_permanent(fcm: FakeFcm) -> None:
    account = fcm.service_account()
    forged = {**account, "private_key": fcm.service_account()["private_key"]}
    with pytest.raises(PermanentChannelError) as caught:
        await push(fcm_channel(fcm, forged), fcm.register_device())
    assert caught.value.code == "fcm-auth"
    assert "Invalid JWT Signature" in caught.value.message
    assert fcm.received == []


async def test_another_projects_account_is_refused(fcm: FakeFcm) -> None:
    channel = fcm_channel(fcm, fcm.service_account("project-a"), fcm_project_id="project-b")
    with pytest.raises(PermanentChannelError) as caught:
        await push(channel, fcm.register_device())
    assert caught.value.code == "PERMISSION_DENIED"


async def test_the_token_endpoint_can_be_set_apart_from_the_account(fcm: FakeFcm) -> None:
    account = fcm.service_account(token_uri="https://oauth2.example.invalid/token")
    await push(fcm_channel(fcm, account, fcm_token_uri=fcm.token_uri), fcm.register_device())
    assert len(fcm.token_requests) == 1


async def test_the_fake_validates_messages_as_fcm_does(fcm: FakeFcm) -> None:
    token = fcm.register_device()
    base = {"token": token, "notification": {"title": "t"}}
    cases = [
        ({"message": {**base, "data": {"n": 7}}}, 400, "message.data[0].value"),
        ({"message": {**base, "topic": "news"}}, 400, "message"),
        ({"message": {**base, "subtitle": "x"}}, 400, "message"),
        (
            {"message": {**base, "android": {"notification": {"subtitle": "x"}}}},
            400,
            "message.android.notification",
        ),
        ({"message": {"notification": {"title": "t"}}}, 400, "message"),
    ]
    channel = fcm_channel(fcm)
    access = channel.fcm._tokens.current() if channel.fcm else ""
    url = f"{fcm.url}/v1/projects/tidings-test/messages:send"
    async with aiohttp.ClientSession() as session:
        for body, status, field in cases:
            async with session.post(
                url, json=body, headers={"Authorization": f"Bearer {access}"}
            ) as response:
                error = (await response.json())["error"]
            assert response.status == status, body
            violations = [d for d in error.get("details", []) if d["@type"].endswith("BadRequest")]
            assert violations and violations[0]["fieldViolations"][0]["field"] == field, error
        async with session.post(url, json={"message": base}) as response:
            assert response.status == 401
    assert fcm.delivered() == []


def test_parse_address_tells_tokens_from_subscriptions(fcm: FakeFcm) -> None:
    channel = fcm_channel(fcm)
    token = fcm.register_device()
    assert channel.parse_address(f"  {token}\n") == token
    assert channel.parse_address(token) == token
    for garbage in ("has spaces in it", "short", 'x"quoted"' * 5, 42, None):
        with pytest.raises(InvalidAddress) as caught:
            channel.parse_address(garbage)
        assert caught.value.code == "invalid-address"
    with pytest.raises(InvalidAddress) as refused:
        channel.parse_address({"endpoint": "https://push.example/x", "keys": {"p256dh": "x", "auth": "y"}})
    assert refused.value.code == "invalid-address"


def test_a_provider_that_is_not_configured_is_named(fcm: FakeFcm, vapid_keys: tuple[str, str]) -> None:
    web_only = ChannelRegistry.build(
        load_service_config(json.dumps({"activeChannels": ["push"]})),
        {"VAPID_PRIVATE_KEY": vapid_keys[0], "VAPID_SUBJECT": "mailto:ops@tidings.test"},
    )["push"]
    with pytest.raises(InvalidAddress) as caught:
        web_only.parse_address(fcm.register_device())
    assert caught.value.code == "fcm-not-configured"
    assert "FCM_SERVICE_ACCOUNT_FILE" in caught.value.message
    with PushService() as service:
        subscription = service.subscribe()
    with pytest.raises(InvalidAddress) as caught:
        fcm_channel(fcm).parse_address(subscription)
    assert caught.value.code == "webpush-not-configured"
    assert "VAPID_PRIVATE_KEY" in caught.value.message


def test_mias_credentials_variable_is_read(fcm: FakeFcm, tmp_path: Path) -> None:
    path = tmp_path / "google-credential.json"
    path.write_text(json.dumps(fcm.service_account("mia-project")))
    channel = ChannelRegistry.build(
        load_service_config(json.dumps({"activeChannels": ["push"]})),
        {"GOOGLE_APPLICATION_CREDENTIALS": str(path), "FCM_API_BASE": fcm.url},
    )["push"]
    assert isinstance(channel, PushChannel) and channel.fcm is not None and channel.web_push is None
    assert channel.fcm.project_id == "mia-project"
    assert channel.fcm.url == f"{fcm.url}/v1/projects/mia-project/messages:send"


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"FCM_SERVICE_ACCOUNT_FILE": "/nonexistent/account.json"}, "FCM_SERVICE_ACCOUNT_FILE"),
        ({"FCM_SERVICE_ACCOUNT_JSON": "{not json"}, "FCM_SERVICE_ACCOUNT_JSON"),
        ({"FCM_SERVICE_ACCOUNT_JSON": '{"type": "authorized_user"}'}, "FCM_SERVICE_ACCOUNT_JSON"),
        (
            {"FCM_SERVICE_ACCOUNT_JSON": "{}", "FCM_SERVICE_ACCOUNT_FILE": "/x.json"},
            "FCM_SERVICE_ACCOUNT_JSON",
        ),
        ({"FCM_SERVICE_ACCOUNT_JSON": "ACCOUNT", "FCM_TIMEOUT": "soon"}, "FCM_TIMEOUT"),
        ({"FCM_SERVICE_ACCOUNT_JSON": "NO_PROJECT"}, "FCM_PROJECT_ID"),
        ({"FCM_SERVICE_ACCOUNT_JSON": "BAD_KEY"}, "FCM_SERVICE_ACCOUNT_FILE"),
        ({}, "VAPID_PRIVATE_KEY"),
    ],
)
def test_configuration_errors_name_the_variable(fcm: FakeFcm, environ: dict[str, str], key: str) -> None:
    account = fcm.service_account()
    replacements = {
        "ACCOUNT": json.dumps(account),
        "NO_PROJECT": json.dumps({k: v for k, v in account.items() if k != "project_id"}),
        "BAD_KEY": json.dumps(
            {**account, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}
        ),
    }
    environ = {name: replacements.get(value, value) for name, value in environ.items()}
    with pytest.raises(ConfigurationError) as caught:
        ChannelRegistry.build(load_service_config(json.dumps({"activeChannels": ["push"]})), environ)
    assert caught.value.key == key


def test_the_service_account_never_reaches_repr(fcm: FakeFcm) -> None:
    account = json.dumps(fcm.service_account())
    config = PushConfig(fcm_service_account_json=account, private_key="secret-vapid-key")
    for text in (repr(config), str(list(config.__rich_repr__()))):
        assert "PRIVATE KEY" not in text and "secret-vapid-key" not in text


async def test_no_key_or_token_reaches_a_log_line(fcm: FakeFcm, caplog: pytest.LogCaptureFixture) -> None:
    account = fcm.service_account()
    caplog.set_level(logging.DEBUG)
    channel = fcm_channel(fcm, account)
    await push(channel, fcm.register_device())
    fcm.revoke_tokens()
    await push(channel, fcm.register_device())  # a refresh too
    key_body = account["private_key"].splitlines()[1]
    assert '"POST /token HTTP/1.1" 200' in caplog.text  # DEBUG lines were captured
    assert key_body not in caplog.text
    assert "ya29." not in caplog.text
    assert "assertion=" not in caplog.text
