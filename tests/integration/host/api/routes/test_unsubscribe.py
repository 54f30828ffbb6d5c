"""One-click unsubscribe (RFC 8058), end to end: the link of a received mail opts its user out, a GET only
shows the confirm page, and tampered or expired links are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from host.access.unsubscribe_links import (
    UnsubscribeLinks,
)
from tests.support.configs import TEST_SECRET_KEY
from tests.support.opt_outs import hello, mail_user, opt_outs_of
from tests.support.stacks import Stack

ONE_CLICK = {
    "content": b"List-Unsubscribe=One-Click",
    "headers": {"content-type": "application/x-www-form-urlencoded"},
}


async def _received_link(stack: Stack, uid: str, address: str) -> str:
    """Send one e-mail to the user and return the path of the unsubscribe link it carries."""
    before = len(stack.mails_to(address))
    result = await stack.send(hello(uid))
    await stack.wait_settled(result["dispatchId"])
    mail = stack.mails_to(address)[before]
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(mail.message["List-Unsubscribe"])
    assert header.startswith("<http://127.0.0.1:8000/unsubscribe/") and header.endswith(">"), header
    return urlsplit(header[1:-1]).path


async def test_one_click_link_from_a_received_mail_skips_the_next_dispatch(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await mail_user(stack, unique)
    path = await _received_link(stack, uid, address)

    done = await stack.client.post(path, **ONE_CLICK)  # type: ignore[arg-type]
    assert done.status_code == 200
    assert "unsubscribed" in done.text and "e-mail" in done.text
    [opt_out] = await opt_outs_of(stack, uid)
    assert (opt_out["channel"], opt_out["source"]) == ("email", "link")

    mails = len(stack.mails_to(address))
    result = await stack.send(hello(uid))
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
    uid, address = await mail_user(stack, unique)
    path = await _received_link(stack, uid, address)
    for _ in range(2):  # a mail scanner prefetching the link, then the user opening it
        page = await stack.client.get(path)
        assert page.status_code == 200
        assert '<form method="post">' in page.text and "Unsubscribe" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
    assert await opt_outs_of(stack, uid) == []


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _legacy_token(secret_key: str, user_id: str, channel: str, expires: int) -> str:
    """A token of the first format, made exactly as ``UnsubscribeLinks.token`` made them until v2."""
    key = hmac.new(secret_key.encode("utf-8"), b"tidings unsubscribe link v1", hashlib.sha256).digest()
    payload = _b64(json.dumps([user_id, channel, expires], separators=(",", ":")).encode())
    return f"{payload}.{_b64(hmac.new(key, payload.encode('ascii'), hashlib.sha256).digest())}"


def _tampered(token: str, other: str) -> list[str]:
    """Altered copies of ``token``; ``other`` is a valid token of the same format for someone else."""
    payload, _, signed = token.partition(".")  # signed: "<timestamp>.<signature>", or "<signature>" (v1)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    return [
        flipped,  # signature changed
        f"{other.partition('.')[0]}.{signed}",  # payload changed, old signature
        payload,  # no signature at all
        f"{payload}.",
        f"{token.rpartition('.')[0]}.",  # signature dropped
        "not-a-token",
    ]


async def test_tampered_and_expired_links_are_refused(stack: Stack, unique: Callable[[str], str]) -> None:
    uid, address = await mail_user(stack, unique)
    path = await _received_link(stack, uid, address)
    token = path.rsplit("/", 1)[1]
    links = UnsubscribeLinks(TEST_SECRET_KEY, "http://127.0.0.1:8000")
    expired = links.token(uid, "email", expires=int(time.time()) - 60)
    forged = UnsubscribeLinks("another-secret-key-entirely", "http://x").token(uid, "email")
    soon = int(time.time()) + 3600
    legacy = _legacy_token(TEST_SECRET_KEY, uid, "email", soon)
    legacy_bad = [
        *_tampered(legacy, _legacy_token(TEST_SECRET_KEY, "someone-else", "email", 4102444800)),
        _legacy_token(TEST_SECRET_KEY, uid, "email", int(time.time()) - 60),  # expired
        _legacy_token("another-secret-key-entirely", uid, "email", soon),  # forged
    ]
    for bad in [*_tampered(token, links.token("someone-else", "email")), expired, forged, *legacy_bad]:
        for method in ("GET", "POST"):
            answer = await stack.client.request(method, f"/unsubscribe/{bad}", **ONE_CLICK)  # type: ignore[arg-type]
            assert answer.status_code == 400, (method, bad)
            assert "invalid or has expired" in answer.text
    assert await opt_outs_of(stack, uid) == []
    assert links.read(token).user_id == uid  # the untouched token was fine all along
    assert links.read(legacy).user_id == uid


async def test_a_link_of_the_first_format_still_unsubscribes(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, _ = await mail_user(stack, unique)
    legacy = _legacy_token(TEST_SECRET_KEY, uid, "email", int(time.time()) + 89 * 24 * 3600)
    page = await stack.client.get(f"/unsubscribe/{legacy}")
    assert page.status_code == 200 and '<form method="post">' in page.text
    done = await stack.client.post(f"/unsubscribe/{legacy}", **ONE_CLICK)  # type: ignore[arg-type]
    assert done.status_code == 200 and "unsubscribed" in done.text
    [opt_out] = await opt_outs_of(stack, uid)
    assert (opt_out["channel"], opt_out["source"]) == ("email", "link")
