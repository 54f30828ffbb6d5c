"""Provider failover: two SMTP relays in order, a transient failure moves the message to the second,
a permanent one does not; a circuit breaker skips a failing relay and tries it again after its cool-down;
and failover from Twilio to Kaleyra through the real provider chain.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from host.delivery.failover import CircuitBreaker, build_chains
from host.plugins.channel import Message
from host.plugins.providers import circuit_policy
from host.plugins.registry import ChannelRegistry
from host.runtime.actors import event_loop_thread
from host.settings import load_service_config
from host.storage.devdb import DevDatabase
from tests.fakes.kaleyra import FakeKaleyra
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import FakeTwilio
from tests.services import RedisServer
from tests.support.clock import ManualClock
from tests.support.configs import BASE_CONFIG
from tests.support.providers import VOICE_SMS, twilio_env
from tests.support.stacks import Stack, open_stack
from tests.support.twilio_numbers import TO

COOL_DOWN = 1.0
RELAYS = [{"name": "primary", "env": "RELAY_A_"}, {"name": "backup", "env": "RELAY_B_"}]


def relay_config(circuit: dict[str, Any]) -> dict[str, Any]:
    return {**BASE_CONFIG, "channels": {"email": {"providers": RELAYS, "circuit": circuit}}}


def relay_env(primary_port: int, backup: SmtpSink) -> dict[str, str]:
    return {
        "RELAY_A_HOST": "127.0.0.1",
        "RELAY_A_PORT": str(primary_port),
        "RELAY_A_TIMEOUT": "5",
        "RELAY_B_HOST": backup.host,
        "RELAY_B_PORT": str(backup.port),
    }


@asynccontextmanager
async def relay_stack(
    folder: Path,
    devdb: DevDatabase,
    redis_server: RedisServer,
    session: Stack,
    circuit: dict[str, Any],
    database: str,
    redis_db: int,
) -> AsyncIterator[tuple[Stack, SmtpSink]]:
    """A stack whose e-mail goes to a primary relay (returned) and else to the backup (``stack.sink``)."""
    async with (
        SmtpSink() as primary,
        SmtpSink() as backup,
        open_stack(
            folder,
            devdb,
            redis_server,
            backup,
            relay_config(circuit),
            database=database,
            redis_db=redis_db,
            session_stack=session,
            **relay_env(primary.port, backup),
        ) as stack,
    ):
        yield stack, primary


@pytest.fixture(scope="module")
async def relays(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    stack: Stack,
) -> AsyncIterator[tuple[Stack, SmtpSink]]:
    """Failover between two relays, with no circuit in the way."""
    no_circuit = {"failures": 1000, "coolDownSeconds": 30}
    folder = tmp_path_factory.mktemp("failover")
    async with relay_stack(folder, devdb, redis_server, stack, no_circuit, "tidings_failover", 13) as pair:
        yield pair


@pytest.fixture(scope="module")
async def circuit(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    stack: Stack,
) -> AsyncIterator[tuple[Stack, SmtpSink]]:
    """Like ``relays``, with a circuit that opens after 2 failures for ``COOL_DOWN`` seconds."""
    opens_fast = {"failures": 2, "coolDownSeconds": COOL_DOWN}
    folder = tmp_path_factory.mktemp("circuit")
    async with relay_stack(folder, devdb, redis_server, stack, opens_fast, "tidings_circuit", 14) as pair:
        yield pair


async def send_to(stack: Stack, prefix: str, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Send one e-mail to ``count`` new users; return their addresses and the settled deliveries."""
    users = [{"fiscalCode": f"{prefix}-{i}", "mail": f"{prefix}-{i}@example.org"} for i in range(count)]
    await stack.add_users(*users)
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [user["fiscalCode"] for user in users],
            "messageTitle": "Hi",
            "messageContent": "Hello",
        }
    )
    await stack.wait_settled(result["dispatchId"])
    return [user["mail"] for user in users], await stack.deliveries(result["dispatchId"])


def message_ids(sink: SmtpSink, prefix: str) -> set[str]:
    return {
        str(mail.message["Message-ID"]) for mail in sink.received if any(prefix in to for to in mail.rcpt_tos)
    }


async def test_with_the_first_relay_refusing_every_mail_goes_through_the_second(
    relays: tuple[Stack, SmtpSink], unique: Callable[[str], str]
) -> None:
    stack, primary = relays
    await asyncio.to_thread(primary.stop)  # nothing listens on the primary's port now
    try:
        prefix = unique("refused")
        addresses, deliveries = await send_to(stack, prefix, 5)
    finally:
        await asyncio.to_thread(primary.start)

    assert sorted(rcpt for mail in stack.sink.received for rcpt in mail.rcpt_tos if prefix in rcpt) == sorted(
        addresses
    )
    assert {d["status"] for d in deliveries} == {"sent"}
    assert {d["attempts"] for d in deliveries} == {1}  # the failover happened within the attempt
    assert {d["provider"] for d in deliveries} == {f"backup (smtp://127.0.0.1:{stack.sink.port})"}
    assert {d["providerId"] for d in deliveries} == message_ids(stack.sink, prefix)


async def test_a_relay_answering_451_hands_that_message_to_the_next(
    relays: tuple[Stack, SmtpSink], unique: Callable[[str], str]
) -> None:
    stack, primary = relays
    primary.script(["451 4.3.0 Try again later"])
    prefix = unique("451")
    _, deliveries = await send_to(stack, prefix, 3)

    assert {d["status"] for d in deliveries} == {"sent"}
    assert {d["attempts"] for d in deliveries} == {1}
    by_provider: dict[str, set[str]] = {}
    for delivery in deliveries:
        by_provider.setdefault(delivery["provider"], set()).add(delivery["providerId"])
    assert by_provider == {
        f"primary (smtp://127.0.0.1:{primary.port})": message_ids(primary, prefix),
        f"backup (smtp://127.0.0.1:{stack.sink.port})": message_ids(stack.sink, prefix),
    }
    assert len(message_ids(stack.sink, prefix)) == 1


async def test_a_permanent_refusal_does_not_fail_over(
    relays: tuple[Stack, SmtpSink], unique: Callable[[str], str]
) -> None:
    stack, primary = relays
    primary.script(["550 5.7.1 Message rejected by policy"])
    prefix = unique("550")
    _, [delivery] = await send_to(stack, prefix, 1)

    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["lastError"]["code"] == "smtp-550"
    assert message_ids(stack.sink, prefix) == set()
    assert message_ids(primary, prefix) == set()


async def test_the_circuit_skips_a_failing_relay_and_tries_it_again_after_the_cool_down(
    circuit: tuple[Stack, SmtpSink], unique: Callable[[str], str]
) -> None:
    stack, primary = circuit
    backup_name = f"backup (smtp://127.0.0.1:{stack.sink.port})"
    primary_name = f"primary (smtp://127.0.0.1:{primary.port})"
    primary.reset()
    primary.script(["421 4.3.2 Service shutting down", "421 4.3.2 Service shutting down"])
    clock = ManualClock()

    async def breakers_on_the_clock() -> None:
        """The worker's breakers, as it builds them, but timed by ``clock`` (on the worker's own loop)."""
        policy = circuit_policy(stack.settings.config, "email")
        assert policy is not None
        for provider in stack.actors.worker_runtime().delivery.chains["email"].providers:
            provider.breaker = CircuitBreaker(f"email provider {provider.name}", policy, clock=clock)

    await asyncio.to_thread(event_loop_thread().run_coroutine, breakers_on_the_clock())

    providers = []
    for round_ in range(2):  # two transient failures in a row: the circuit opens
        _, [delivery] = await send_to(stack, unique(f"fail{round_}"), 1)
        providers.append(delivery["provider"])
        assert primary.connections == round_ + 1
    assert providers == [backup_name, backup_name]

    _, [delivery] = await send_to(stack, unique("open"), 1)
    assert delivery["provider"] == backup_name
    assert primary.connections == 2, "an open circuit must not even connect to the relay"

    clock.advance(COOL_DOWN + 0.2)  # the cool-down passes: one trial goes to the primary
    for round_ in range(2):
        prefix = unique(f"closed{round_}")
        _, [delivery] = await send_to(stack, prefix, 1)
        assert delivery["provider"] == primary_name
        assert message_ids(primary, prefix) == {delivery["providerId"]}
    assert primary.connections == 4


async def test_failover_from_twilio_to_kaleyra(kaleyra: FakeKaleyra, fake: FakeTwilio) -> None:
    kaleyra.reset()
    providers = [{"name": "twilio"}, {"name": "kaleyra", "type": "kaleyra"}]
    config = {**VOICE_SMS, "channels": {"voice": {"providers": providers, "circuit": {"failures": 1}}}}
    service = load_service_config(json.dumps(config))
    registry = ChannelRegistry.build(service, {**kaleyra.environ(), **twilio_env(fake)})
    chain = build_chains(service, registry)["voice"]
    fake.script([503])
    async with chain.open() as sender:
        first = await sender.send(Message(text="Primo"), TO)  # Twilio 503: Kaleyra takes it
        second = await sender.send(Message(text="Secondo"), TO)  # Twilio's circuit is open: Kaleyra
    assert (first.provider, second.provider) == ("kaleyra (kaleyra)", "kaleyra (kaleyra)")
    assert [call.target() for call in kaleyra.calls] == [[{"message": "Primo"}], [{"message": "Secondo"}]]
    assert [r.status for r in fake.received] == [503]
    assert fake.calls == []
