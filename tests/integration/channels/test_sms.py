"""The SMS channel through the real Twilio SDK against the Twilio fake (tests/fakes/twilio.py)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from channels.sms import SmsChannel
from channels.twilio_client import TwilioConfig
from host.errors import (
    InvalidAddress,
    PermanentChannelError,
    TransientChannelError,
)
from host.plugins.channel import Channel, ChannelContext, Message
from tests.fakes.twilio import FakeTwilio, ScriptedResponse
from tests.support.twilio_numbers import INVALID, SENDER, TO


def config_for(fake: FakeTwilio, **changes: object) -> TwilioConfig:
    values: dict[str, object] = {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "api_base": fake.url,
        "timeout": 5.0,
    }
    return TwilioConfig(**(values | changes))  # type: ignore[arg-type]


@pytest.fixture
def channel(fake: FakeTwilio) -> SmsChannel:
    return SmsChannel(config_for(fake), ChannelContext(sender=SENDER))


async def send_one(channel: SmsChannel, text: str = "Hello", to: str = TO) -> str:
    async with channel.open() as sender:
        receipt = await sender.send(Message(text=text), to)
    assert receipt.provider == "twilio"
    return receipt.provider_id


def test_is_a_channel(channel: SmsChannel) -> None:
    assert isinstance(channel, Channel)


async def test_sends_and_returns_the_message_sid(channel: SmsChannel, fake: FakeTwilio) -> None:
    sid = await send_one(channel, "Ciao Alice, è confermato ✓")
    [received] = fake.messages
    assert sid.startswith("SM") and len(sid) == 34
    assert received.sid == sid
    assert received.auth_user == fake.account_sid
    assert (received.to, received.from_, received.body) == (TO, SENDER, "Ciao Alice, è confermato ✓")


async def test_one_client_serves_a_concurrent_batch(channel: SmsChannel, fake: FakeTwilio) -> None:
    async with channel.open() as sender:
        receipts = await asyncio.gather(*(sender.send(Message(text=f"n{i}"), TO) for i in range(40)))
    assert len({receipt.provider_id for receipt in receipts}) == 40
    assert sorted(r.body or "" for r in fake.messages) == sorted(f"n{i}" for i in range(40))


async def test_messaging_service_sender(fake: FakeTwilio) -> None:
    service = "MG" + "a" * 32
    channel = SmsChannel(config_for(fake), ChannelContext(sender=service))
    await send_one(channel)
    [received] = fake.messages
    assert received.form.get("MessagingServiceSid") == service
    assert received.from_ is None


async def test_invalid_number_is_permanent_21211(channel: SmsChannel) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await send_one(channel, to=INVALID)
    assert caught.value.code == "21211"
    assert not caught.value.address_gone


async def test_wrong_token_is_permanent_20003(fake: FakeTwilio) -> None:
    channel = SmsChannel(config_for(fake, auth_token="wrong"), ChannelContext(sender=SENDER))
    with pytest.raises(PermanentChannelError) as caught:
        await send_one(channel)
    assert caught.value.code == "20003"
    assert "wrong" not in str(caught.value)
    assert fake.received[0].status == 401


async def test_rate_limit_is_transient_with_retry_after(channel: SmsChannel, fake: FakeTwilio) -> None:
    fake.script([ScriptedResponse(429, retry_after="3")])
    with pytest.raises(TransientChannelError) as caught:
        await send_one(channel)
    assert caught.value.code == "20429"
    assert caught.value.retry_after == 3.0


async def test_retry_after_belongs_to_the_failed_send_only(channel: SmsChannel, fake: FakeTwilio) -> None:
    fake.script([ScriptedResponse(429, retry_after="2")])
    async with channel.open() as sender:
        results = await asyncio.gather(
            *(sender.send(Message(text="x"), TO) for _ in range(10)), return_exceptions=True
        )
    [failure] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(failure, TransientChannelError) and failure.retry_after == 2.0
    assert len(fake.messages) == 9


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient(channel: SmsChannel, fake: FakeTwilio, status: int) -> None:
    fake.script([status])
    with pytest.raises(TransientChannelError) as caught:
        await send_one(channel)
    assert caught.value.retry_after is None
    assert caught.value.code == str(20000 + status)


async def test_timeout_is_transient(fake: FakeTwilio) -> None:
    channel = SmsChannel(config_for(fake, timeout=0.2), ChannelContext(sender=SENDER))
    fake.script([ScriptedResponse(500, delay=1.0)])
    with pytest.raises(TransientChannelError) as caught:
        await send_one(channel)
    assert caught.value.code == "timeout"


async def test_unreachable_api_is_transient(fake: FakeTwilio) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = SmsChannel(config_for(fake, api_base=f"http://127.0.0.1:{port}"), ChannelContext(sender=SENDER))
    with pytest.raises(TransientChannelError) as caught:
        await send_one(channel)
    assert caught.value.code == "connection"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+393331234567", "+393331234567"),
        ("+39 333 123 4567", "+393331234567"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+12345678", "+12345678"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_parse_address_accepts_e164(channel: SmsChannel, raw: str, expected: str) -> None:
    assert channel.parse_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["3331234567", "+1234567", "+1234567890123456", "+0393331234567", "+39 333 abc", "", None, 393331234567],
)
def test_parse_address_refuses_the_rest(channel: SmsChannel, raw: object) -> None:
    with pytest.raises(InvalidAddress):
        channel.parse_address(raw)
