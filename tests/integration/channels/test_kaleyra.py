"""Kaleyra as a provider of voice and SMS, against the Kaleyra fake (tests/fakes/kaleyra.py)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from channels.kaleyra import KaleyraConfig, KaleyraSms, KaleyraVoice
from host.errors import PermanentChannelError, TransientChannelError
from host.plugins.channel import Channel, ChannelContext, Message
from tests.fakes.kaleyra import FakeKaleyra, ScriptedKaleyra
from tests.support.twilio_numbers import INVALID, SENDER, TO

SENDER_ID = "TIDING"


@pytest.fixture(scope="module")
def kaleyra_server() -> Iterator[FakeKaleyra]:
    with FakeKaleyra(bridges={SENDER.removeprefix("+")}, invalid_numbers={INVALID}) as running:
        yield running


@pytest.fixture
def kaleyra(kaleyra_server: FakeKaleyra) -> FakeKaleyra:
    """The module's Kaleyra fake, with nothing received and nothing scripted."""
    kaleyra_server.reset()
    return kaleyra_server


def config(fake: FakeKaleyra, **overrides: Any) -> KaleyraConfig:
    values: dict[str, Any] = {"api_key": fake.api_key, "sid": fake.sid, "base_url": fake.url, "timeout": 5.0}
    return KaleyraConfig(**(values | overrides))


def voice(fake: FakeKaleyra, **overrides: Any) -> KaleyraVoice:
    return KaleyraVoice(config(fake, **overrides), ChannelContext(sender=SENDER))


def sms(fake: FakeKaleyra, **overrides: Any) -> KaleyraSms:
    return KaleyraSms(config(fake, **overrides), ChannelContext(sender=SENDER_ID))


async def send(channel: Channel, text: str, to: str = TO) -> str:
    async with channel.open() as sender:
        receipt = await sender.send(Message(text=text), channel.parse_address(to))
    assert receipt.provider == "kaleyra"
    return receipt.provider_id


async def test_a_call_reads_the_message(kaleyra: FakeKaleyra) -> None:
    text = "Ciao Alice, l'appuntamento è domani alle 10"
    call_id = await send(voice(kaleyra), text)
    [received] = kaleyra.calls
    assert received.id == call_id
    assert (received.sid, received.api_key) == (kaleyra.sid, kaleyra.api_key)
    assert received.form["to"] == TO.removeprefix("+")
    assert received.form["bridge"] == SENDER.removeprefix("+")
    assert received.target() == [{"message": text}]


async def test_an_sms_goes_to_messages(kaleyra: FakeKaleyra) -> None:
    message_id = await send(sms(kaleyra, sms_type="TXN"), "Il tuo codice è 1234")
    [received] = kaleyra.messages
    assert received.id == message_id
    assert received.form == {"to": TO, "sender": SENDER_ID, "type": "TXN", "body": "Il tuo codice è 1234"}


async def test_an_invalid_number_is_permanent(kaleyra: FakeKaleyra) -> None:
    for channel in (voice(kaleyra), sms(kaleyra)):
        with pytest.raises(PermanentChannelError) as caught:
            await send(channel, "x", to=INVALID)
        assert not isinstance(caught.value, TransientChannelError)
        assert "refused the number" in caught.value.message
        assert caught.value.address_gone is False
    assert kaleyra.calls == kaleyra.messages == []


async def test_a_wrong_key_or_sid_is_permanent(kaleyra: FakeKaleyra) -> None:
    for channel in (voice(kaleyra, api_key="wrong"), voice(kaleyra, sid="HXOTHER")):
        with pytest.raises(PermanentChannelError) as caught:
            await send(channel, "x")
        assert "refused the API key or SID" in caught.value.message
    assert [r.status for r in kaleyra.received] == [401, 401]


async def test_an_unregistered_bridge_is_permanent(kaleyra: FakeKaleyra) -> None:
    channel = KaleyraVoice(config(kaleyra), ChannelContext(sender="+390612345678"))
    with pytest.raises(PermanentChannelError) as caught:
        await send(channel, "x")
    assert "bridge" in caught.value.message


async def test_rate_limits_and_outages_are_transient(kaleyra: FakeKaleyra) -> None:
    kaleyra.script([ScriptedKaleyra(429, retry_after="4"), ScriptedKaleyra(503, retry_after="1"), 500])
    channel = voice(kaleyra)
    async with channel.open() as sender:
        errors = []
        for _ in range(3):
            with pytest.raises(TransientChannelError) as caught:
                await sender.send(Message(text="x"), TO)
            errors.append((caught.value.code, caught.value.retry_after))
        await sender.send(Message(text="x"), TO)
    assert errors == [("E429", 4.0), ("E503", 1.0), ("E500", None)]
    assert len(kaleyra.calls) == 1


async def test_an_unreachable_kaleyra_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = KaleyraVoice(
        KaleyraConfig(api_key="k", sid="s", base_url=f"http://127.0.0.1:{port}"),
        ChannelContext(sender=SENDER),
    )
    with pytest.raises(TransientChannelError):
        await send(channel, "x")


async def test_an_empty_message_is_not_sent(kaleyra: FakeKaleyra) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        await send(voice(kaleyra), "")
    assert caught.value.code == "empty-body"
    assert kaleyra.received == []


async def test_the_api_key_never_reaches_a_log_line(
    kaleyra: FakeKaleyra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await send(voice(kaleyra), "x")
    kaleyra.script([429])
    with pytest.raises(TransientChannelError):
        await send(sms(kaleyra), "x")
    assert kaleyra.api_key not in caplog.text
