"""The contract every registered channel keeps, against its real peer: one suite, parametrized by channel.

Each channel type found under the ``tidings.channels`` entry points (built-in or third-party), and each
provider type under ``tidings.providers`` that is not the channel's own class (``voice.kaleyra``), needs a
harness here: how to reach its local peer, an address, and how to make the peer refuse for a while
(transient) or for good (permanent). A registered channel or provider without a harness fails the suite.
The push channel runs twice: for a Web Push subscription and for an FCM token (``push.fcm``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from host.errors import InvalidAddress, PermanentChannelError, TransientChannelError
from host.plugins.channel import Channel, Limits, Message, Receipt
from host.plugins.registry import ChannelRegistry, discover_channel_types, discover_provider_types
from host.settings import load_service_config
from tests.fakes.fcm import FakeFcm, ScriptedFcm
from tests.fakes.kaleyra import FakeKaleyra
from tests.fakes.push import PushService, ScriptedPush
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio, ScriptedResponse
from tests.fakes.webhook import WebhookReceiver
from tests.support.configs import TWILIO_SENDER
from tests.support.stacks import channel_env

CHANNELS = discover_channel_types()
#: provider types other than a channel's own class, as ``<channel>.<type>``
PROVIDER_TYPES = sorted(
    f"{channel}.{kind}"
    for channel, kinds in discover_provider_types(CHANNELS).items()
    for kind, provider in kinds.items()
    if provider is not CHANNELS.get(channel)
)
REGISTERED = sorted(CHANNELS) + PROVIDER_TYPES + ["push.fcm"]
GARBAGE: list[object] = [None, 42, "", "   ", {"x": 1}, ["a"], "not an address, with spaces ☃"]
MESSAGE = Message(subject="Contract", text="Hello from the contract suite", data={"k": "v"})


@dataclass
class Harness:
    """One channel against its peer."""

    raw_address: object
    transient: Callable[[], None]
    permanent: Callable[[], None]


@dataclass
class Peers:
    smtp: SmtpSink
    twilio: FakeTwilio
    push: PushService
    webhook: WebhookReceiver
    vapid_public: str
    kaleyra: FakeKaleyra
    fcm: FakeFcm


def _email(peers: Peers) -> Harness:
    return Harness(
        "contract@example.org",
        transient=lambda: peers.smtp.script(["451 4.3.0 try again later"]),
        permanent=lambda: peers.smtp.script(["550 5.7.1 rejected by policy"]),
    )


def _twilio(peers: Peers) -> Harness:
    return Harness(
        "+393330000001",
        transient=lambda: peers.twilio.script([503]),
        permanent=lambda: peers.twilio.script([ScriptedResponse(400, code=21211)]),
    )


def _push(peers: Peers) -> Harness:
    subscription = peers.push.subscribe(application_server_key=peers.vapid_public)
    return Harness(
        subscription,
        transient=lambda: peers.push.script([ScriptedPush(429, retry_after="2")], subscription=subscription),
        permanent=lambda: peers.push.script([410], subscription=subscription),
    )


def _kaleyra(peers: Peers) -> Harness:
    return Harness(
        "+393330000001",
        transient=lambda: peers.kaleyra.script([503]),
        permanent=lambda: peers.kaleyra.script([400]),
    )


def _fcm(peers: Peers) -> Harness:
    token = peers.fcm.register_device()
    return Harness(
        token,
        transient=lambda: peers.fcm.script([ScriptedFcm(429, retry_after="2")], device=token),
        permanent=lambda: peers.fcm.unregister(token),
    )


def _webhook(peers: Peers) -> Harness:
    return Harness(
        "@contract",
        transient=lambda: peers.webhook.script([(503, "1")]),
        permanent=lambda: peers.webhook.script([400]),
    )


HARNESSES: dict[str, Callable[[Peers], Harness]] = {
    "email": _email,
    "sms": _twilio,
    "voice": _twilio,
    "push": _push,
    "push.fcm": _fcm,
    "sms.kaleyra": _kaleyra,
    "voice.kaleyra": _kaleyra,
    "webhook": _webhook,
}


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:  # its own: scripted replies must not reach the session stack's sink
        yield sink


@pytest.fixture(scope="module")
def kaleyra() -> Iterator[FakeKaleyra]:
    with FakeKaleyra(bridges={TWILIO_SENDER.removeprefix("+")}) as fake:
        yield fake


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture(scope="module")
def environ(
    smtp: SmtpSink,
    fake_twilio: FakeTwilio,
    webhook_receiver: WebhookReceiver,
    vapid_keys: tuple[str, str],
    kaleyra: FakeKaleyra,
    fcm: FakeFcm,
) -> dict[str, str]:
    return {
        **channel_env(fake_twilio, vapid_keys, webhook_receiver),
        **kaleyra.environ(),
        "FCM_SERVICE_ACCOUNT_JSON": json.dumps(fcm.service_account()),
        "FCM_API_BASE": fcm.url,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
    }


def _config(**channels: Any) -> Any:
    return load_service_config(
        json.dumps(
            {
                "activeChannels": sorted(CHANNELS),
                "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
                "channels": channels,
            }
        )
    )


@pytest.fixture(scope="module")
def registry(environ: dict[str, str]) -> ChannelRegistry:
    """Every registered channel, built by the registry as the service builds them."""
    return ChannelRegistry.build(_config(), environ)


@pytest.fixture(scope="module")
def provider_registry(environ: dict[str, str]) -> ChannelRegistry:
    """The channels whose first provider is each registered provider type."""
    kinds = dict(name.split(".") for name in PROVIDER_TYPES)
    return ChannelRegistry.build(
        _config(**{c: {"providers": [{"name": kind, "type": kind}]} for c, kind in kinds.items()}), environ
    )


@pytest.fixture
def peers(
    smtp: SmtpSink,
    fake_twilio: FakeTwilio,
    push_service: PushService,
    webhook_receiver: WebhookReceiver,
    vapid_keys: tuple[str, str],
    kaleyra: FakeKaleyra,
    fcm: FakeFcm,
) -> Peers:
    return Peers(smtp, fake_twilio, push_service, webhook_receiver, vapid_keys[1], kaleyra, fcm)


@pytest.fixture(params=REGISTERED)
def name(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def channel(registry: ChannelRegistry, provider_registry: ChannelRegistry, name: str) -> Channel:
    if name in PROVIDER_TYPES:
        return provider_registry.providers(name.split(".")[0])[0].channel
    return registry[name.split(".")[0]]


@pytest.fixture
def harness(name: str, peers: Peers) -> Harness:
    if name not in HARNESSES:
        pytest.fail(f"channel {name!r} is registered but the contract suite has no harness for it")
    return HARNESSES[name](peers)


async def send(channel: Channel, harness: Harness) -> Receipt:
    address = channel.parse_address(harness.raw_address)
    async with channel.open() as sender:
        return await sender.send(MESSAGE, address)


def test_the_builtin_channels_are_registered() -> None:
    assert {"email", "sms", "voice", "push"} <= set(REGISTERED)


def test_the_builtin_provider_types_have_harnesses() -> None:
    assert {"sms.kaleyra", "voice.kaleyra"} <= set(PROVIDER_TYPES)


def test_declares_itself_as_data(channel: Channel, name: str) -> None:
    assert isinstance(channel, Channel)
    assert channel.name == name.split(".")[0]
    assert isinstance(channel.limits, Limits)
    assert channel.limits.batch_size >= 1
    assert channel.limits.rate_per_second is None or channel.limits.rate_per_second > 0
    assert channel.template_fields, "a channel renders at least one field"
    for requirement in channel.required:
        assert set(requirement.split("|")) <= set(channel.template_fields)


async def test_success_gives_a_receipt_with_a_provider_id(channel: Channel, harness: Harness) -> None:
    receipt = await send(channel, harness)
    assert isinstance(receipt, Receipt)
    assert isinstance(receipt.provider_id, str) and receipt.provider_id.strip()
    assert receipt.provider is None or isinstance(receipt.provider, str)


async def test_transient_refusal_is_a_transient_error(channel: Channel, harness: Harness) -> None:
    harness.transient()
    with pytest.raises(TransientChannelError) as caught:
        await send(channel, harness)
    assert caught.value.message
    await send(channel, harness)  # and the next try goes through


async def test_permanent_refusal_is_a_permanent_error(channel: Channel, harness: Harness) -> None:
    harness.permanent()
    with pytest.raises(PermanentChannelError) as caught:
        await send(channel, harness)
    assert not isinstance(caught.value, TransientChannelError)
    assert caught.value.message


def test_parse_address_is_canonical(channel: Channel, harness: Harness) -> None:
    address = channel.parse_address(harness.raw_address)
    assert isinstance(address, str) and address
    assert channel.parse_address(address) == address


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_parse_address_refuses_garbage(channel: Channel, garbage: Any) -> None:
    with pytest.raises(InvalidAddress) as caught:
        channel.parse_address(garbage)
    assert caught.value.message
