"""Opt-outs and one-click unsubscribe (RFC 8058), end to end: SMTP sink, API and console."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from admin_ui.staff import hash_password
from host.access.unsubscribe_links import (
    InvalidLink,
    UnsubscribeLinks,
    embedded_secret_key,
    require_secret_key,
)
from host.api.app import create_app
from host.errors import ConfigurationError
from host.settings import Environment, ServiceConfig, Settings
from host.storage.documents import utcnow
from tests.support.configs import TEST_SECRET_KEY
from tests.support.console import PASSWORD, csrf_of, login
from tests.support.stacks import Stack

ONE_CLICK = {
    "content": b"List-Unsubscribe=One-Click",
    "headers": {"content-type": "application/x-www-form-urlencoded"},
}


async def _mail_user(stack: Stack, unique: Callable[[str], str]) -> tuple[str, str]:
    uid = unique("optout")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "phoneNumber": "+393401234567", "groups": []})
    return uid, address


def _hello(uid: str, channels: tuple[str, ...] = ("email",)) -> dict[str, Any]:
    return {"channels": list(channels), "recipients": [uid], "messageTitle": "Hi", "messageContent": "News"}


async def _received_link(stack: Stack, uid: str, address: str) -> str:
    """Send one e-mail to the user and return the path of the unsubscribe link it carries."""
    before = len(stack.mails_to(address))
    result = await stack.send(_hello(uid))
    await stack.wait_settled(result["dispatchId"])
    mail = stack.mails_to(address)[before]
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(mail.message["List-Unsubscribe"])
    assert header.startswith("<http://127.0.0.1:8000/unsubscribe/") and header.endswith(">"), header
    return urlsplit(header[1:-1]).path


async def _opt_outs(stack: Stack, uid: str) -> list[dict[str, Any]]:
    response = await stack.client.get(f"/users/{uid}/opt-outs")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_one_click_link_from_a_received_mail_skips_the_next_dispatch(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await _mail_user(stack, unique)
    path = await _received_link(stack, uid, address)

    done = await stack.client.post(path, **ONE_CLICK)  # type: ignore[arg-type]
    assert done.status_code == 200
    assert "unsubscribed" in done.text and "e-mail" in done.text
    [opt_out] = await _opt_outs(stack, uid)
    assert (opt_out["channel"], opt_out["source"]) == ("email", "link")

    mails = len(stack.mails_to(address))
    result = await stack.send(_hello(uid))
    assert result["failures"] == [{"userId": uid, "channel": "email", "error": "the user opted out of email"}]
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"skipped": 1}}
    [delivery] = await stack.deliveries(result["dispatchId"])
    assert delivery["status"] == "skipped"
    assert delivery["lastError"]["code"] == "opted-out"
    assert len(stack.mails_to(address)) == mails


async def test_get_shows_a_confirm_page_and_unsubscribes_nobody(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await _mail_user(stack, unique)
    path = await _received_link(stack, uid, address)
    for _ in range(2):  # a mail scanner prefetching the link, then the user opening it
        page = await stack.client.get(path)
        assert page.status_code == 200
        assert '<form method="post">' in page.text and "Unsubscribe" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
    assert await _opt_outs(stack, uid) == []


def _tampered(token: str) -> list[str]:
    payload, signature = token.split(".")
    other_user = base64.urlsafe_b64encode(json.dumps(["someone-else", "email", 4102444800]).encode())
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return [
        f"{payload}.{flipped}",  # signature changed
        f"{other_user.rstrip(b'=').decode()}.{signature}",  # payload changed, old signature
        payload,  # no signature at all
        f"{payload}.",
        "not-a-token",
    ]


async def test_tampered_and_expired_links_are_refused(stack: Stack, unique: Callable[[str], str]) -> None:
    uid, address = await _mail_user(stack, unique)
    path = await _received_link(stack, uid, address)
    token = path.rsplit("/", 1)[1]
    links = UnsubscribeLinks(TEST_SECRET_KEY, "http://127.0.0.1:8000")
    expired = links.token(uid, "email", expires=int(time.time()) - 60)
    forged = UnsubscribeLinks("another-secret-key-entirely", "http://x").token(uid, "email")
    for bad in [*_tampered(token), expired, forged]:
        for method in ("GET", "POST"):
            answer = await stack.client.request(method, f"/unsubscribe/{bad}", **ONE_CLICK)  # type: ignore[arg-type]
            assert answer.status_code == 400, (method, bad)
            assert "invalid or has expired" in answer.text
    assert await _opt_outs(stack, uid) == []
    assert links.read(token).user_id == uid  # the untouched token was fine all along


async def test_transactional_mail_has_no_unsubscribe_header_and_ignores_opt_outs(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await _mail_user(stack, unique)
    created = await stack.client.post(
        "/templates",
        json={
            "name": unique("receipt"),
            "category": "transactional",
            "emailTitle": "Your receipt",
            "emailMessage": "Thanks {{ user.fiscalCode }}",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["category"] == "transactional"
    assert (await stack.client.put(f"/users/{uid}/opt-outs/email")).status_code == 200

    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "templateId": created.json()["id"]}
    )
    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}
    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Your receipt"
    assert mail.message["List-Unsubscribe"] is None and mail.message["List-Unsubscribe-Post"] is None


async def test_api_records_lists_and_removes_opt_outs(stack: Stack, unique: Callable[[str], str]) -> None:
    uid, _ = await _mail_user(stack, unique)
    put = await stack.client.put(f"/users/{uid}/opt-outs/sms", json={"reason": "asked by phone"})
    assert put.status_code == 200, put.text
    assert put.json()["userId"] == uid and put.json()["source"] == "api"
    [listed] = await _opt_outs(stack, uid)
    assert (listed["channel"], listed["reason"]) == ("sms", "asked by phone")

    result = await stack.send(_hello(uid, ("email", "sms")))
    assert [(f["channel"], f["error"]) for f in result["failures"]] == [("sms", "the user opted out of sms")]
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}, "sms": {"skipped": 1}}

    assert (await stack.client.delete(f"/users/{uid}/opt-outs/sms")).status_code == 204
    assert await _opt_outs(stack, uid) == []
    assert (await stack.client.delete(f"/users/{uid}/opt-outs/sms")).status_code == 404
    unknown_channel = await stack.client.put(f"/users/{uid}/opt-outs/fax")
    assert unknown_channel.status_code == 400 and "fax" in unknown_channel.json()["message"]
    assert (await stack.client.put(f"/users/{unique('nobody')}/opt-outs/email")).status_code == 404


async def test_an_opt_out_recorded_after_the_fan_out_still_wins_at_send_time(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await _mail_user(stack, unique)
    now = utcnow()
    ids = {}
    for category in (None, "transactional"):
        dispatch_id = unique(f"dispatch-{category or 'standard'}")
        await stack.db["dispatches"].insert_one(
            {
                "_id": dispatch_id,
                "channels": ["email"],
                "recipients": [uid],
                "clusters": [],
                "title": "Planned before",
                "content": "the opt-out",
                "category": category,
                "state": "expanded",
                "created_at": now,
            }
        )
        delivery_id = f"{dispatch_id}:email:{uid}"
        await stack.db["deliveries"].insert_one(
            {
                "_id": delivery_id,
                "dispatch_id": dispatch_id,
                "channel": "email",
                "user_id": uid,
                "address": address,
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        ids[category] = delivery_id
    assert (await stack.client.put(f"/users/{uid}/opt-outs/email")).status_code == 200

    await stack.runtime.delivery.deliver("email", list(ids.values()))  # the worker, on the test loop

    skipped = await stack.db["deliveries"].find_one({"_id": ids[None]})
    assert skipped["status"] == "skipped" and skipped["last_error"]["code"] == "opted-out"
    attempt = await stack.db["attempts"].find_one({"_id": f"{ids[None]}:1"})
    assert attempt["outcome"] == "skipped"
    sent = await stack.db["deliveries"].find_one({"_id": ids["transactional"]})
    assert sent["status"] == "sent"
    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Planned before"
    assert mail.message["List-Unsubscribe"] is None


@pytest.fixture
async def console(stack: Stack, unique: Callable[[str], str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A logged-in staff session on a second app over the stack's actors."""
    email = f"{unique('staff')}@example.test"
    await stack.db["staff"].insert_one(
        {"email": email, "password_hash": hash_password(PASSWORD), "role": "editor", "created_at": utcnow()}
    )
    async with AsyncTestClient(create_app(stack.actors), base_url="https://127.0.0.1") as client:
        assert (await login(client, email)).status_code == 303
        yield client


async def test_console_user_page_shows_adds_and_removes_opt_outs(
    stack: Stack, console: AsyncTestClient[Litestar], unique: Callable[[str], str]
) -> None:
    uid, _ = await _mail_user(stack, unique)
    assert (
        await stack.client.put(f"/users/{uid}/opt-outs/email", json={"reason": "too many"})
    ).status_code == 200
    page = await console.get(f"/console/users/{uid}")
    assert page.status_code == 200
    assert 'data-opt-out="email"' in page.text and "too many" in page.text
    csrf = {"X-CSRF-Token": csrf_of(page.text), "HX-Request": "true"}

    refused = await console.post(f"/console/users/{uid}/opt-outs", data={"channel": "sms"})
    assert refused.status_code == 403  # no CSRF token
    added = await console.post(f"/console/users/{uid}/opt-outs", data={"channel": "sms"}, headers=csrf)
    assert added.status_code == 200 and 'data-opt-out="sms"' in added.text
    assert {o["channel"]: o["source"] for o in await _opt_outs(stack, uid)} == {
        "email": "api",
        "sms": "console",
    }

    removed = await console.post(f"/console/users/{uid}/opt-outs/email/remove", headers=csrf)
    assert removed.status_code == 200 and 'data-opt-out="email"' not in removed.text
    assert [o["channel"] for o in await _opt_outs(stack, uid)] == ["sms"]


def test_tokens_round_trip_and_expire() -> None:
    links = UnsubscribeLinks("k" * 32, "https://tidings.example/")
    url = links.url("user:with/odd chars", "email")
    assert url.startswith("https://tidings.example/unsubscribe/")
    target = links.read(url.rsplit("/", 1)[1])
    assert (target.user_id, target.channel) == ("user:with/odd chars", "email")
    with pytest.raises(InvalidLink):
        links.read(links.token("u", "email", expires=1000), now=1000)


def _settings(channels: list[str], **env: str) -> Settings:
    return Settings(env=Environment(**env), config=ServiceConfig(active_channels=channels), environ={})  # type: ignore[arg-type]


def test_the_secret_key_is_required_when_email_is_active(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TIDINGS_SECRET_KEY"):
        require_secret_key(_settings(["email", "sms"]))
    with pytest.raises(ConfigurationError, match="TIDINGS_SECRET_KEY"):
        require_secret_key(_settings(["email"], secret_key="short"))
    require_secret_key(_settings(["sms"]))
    require_secret_key(_settings(["email"], secret_key="x" * 32))

    made = embedded_secret_key(tmp_path, None)
    assert len(made) >= 32 and embedded_secret_key(tmp_path, None) == made  # kept in the data directory
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert embedded_secret_key(tmp_path, "given" * 4) == "given" * 4


async def test_public_pages_need_no_api_key(stack: Stack) -> None:
    from host.api.auth import required_scope
    from host.api.routes.unsubscribe import confirm_unsubscribe, unsubscribe

    for handler, method in ((confirm_unsubscribe, "GET"), (unsubscribe, "POST")):
        assert required_scope(handler, method, "/unsubscribe/{token:str}") is None
    await asyncio.sleep(0)
