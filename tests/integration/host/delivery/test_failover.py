"""Provider failover: two SMTP relays in order, a transient failure moves the message to the second,
a permanent one does not; a circuit breaker skips a failing relay and tries it again after its cool-down.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from host.delivery.failover import CircuitBreaker
from host.errors import ConfigurationError
from host.plugins.providers import CircuitPolicy
from host.plugins.registry import ChannelRegistry
from host.settings import load_service_config
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.cli_runs import worker_with_config
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack

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

    providers = []
    for round_ in range(2):  # two transient failures in a row: the circuit opens
        _, [delivery] = await send_to(stack, unique(f"fail{round_}"), 1)
        providers.append(delivery["provider"])
        assert primary.connections == round_ + 1
    assert providers == [backup_name, backup_name]

    _, [delivery] = await send_to(stack, unique("open"), 1)
    assert delivery["provider"] == backup_name
    assert primary.connections == 2, "an open circuit must not even connect to the relay"

    await asyncio.sleep(COOL_DOWN + 0.2)  # the cool-down passes: one trial goes to the primary
    for round_ in range(2):
        prefix = unique(f"closed{round_}")
        _, [delivery] = await send_to(stack, prefix, 1)
        assert delivery["provider"] == primary_name
        assert message_ids(primary, prefix) == {delivery["providerId"]}
    assert primary.connections == 4


def build(providers: Any, environ: dict[str, str]) -> ChannelRegistry:
    config = {**BASE_CONFIG, "channels": {"email": {"providers": providers}}}
    return ChannelRegistry.build(load_service_config(json.dumps(config)), environ)


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ({"name": "backup", "env": "SMTP_BAKUP_"}, "no environment variable SMTP_BAKUP_* is set"),
        ({"name": "backup"}, "env 'SMTP_' is used by another provider"),
        ({"name": "primary", "env": "SMTP_BACKUP_"}, "listed twice"),
        ({"env": "SMTP_BACKUP_"}, "must be"),
        ("SMTP_BACKUP_", "must be"),
        ({"name": "backup", "env": "SMTP_BACKUP_", "weight": 2}, "must be"),
        ({"name": "backup", "env": "smtp-backup"}, "must be upper-case"),
        ({"name": "backup", "env": "SMTP_BAD_"}, "SMTP_BAD_*: email channel"),  # refused by the channel
    ],
)
def test_a_wrong_provider_entry_is_named(second: Any, reason: str) -> None:
    environ = {"SMTP_BACKUP_HOST": "relay.example.org", "SMTP_BAD_PORT": "not a port"}
    with pytest.raises(ConfigurationError) as caught:
        build([{"name": "primary", "env": "SMTP_"}, second], environ)
    assert caught.value.key == "channels.email.providers[1]"
    assert reason in caught.value.reason


def test_providers_and_circuit_must_be_well_formed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build([], {})
    assert caught.value.key == "channels.email.providers"
    config = {**BASE_CONFIG, "channels": {"email": {"circuit": {"failures": 0}}}}
    with pytest.raises(ConfigurationError) as caught:
        ChannelRegistry.build(load_service_config(json.dumps(config)), {})
    assert caught.value.key == "channels.email.circuit.failures"


def test_the_primary_answers_for_the_channel_and_options_stay_with_the_host() -> None:
    registry = build(
        [{"name": "primary", "env": "SMTP_"}, {"name": "backup", "env": "SMTP_BACKUP_"}],
        {"SMTP_HOST": "a.example.org", "SMTP_BACKUP_HOST": "b.example.org", "SMTP_BACKUP_PORT": "2526"},
    )
    [primary, backup] = registry.providers("email")
    assert registry["email"] is primary.channel
    assert (primary.name, backup.name) == ("primary", "backup")
    assert getattr(backup.channel, "provider", None) == "smtp://b.example.org:2526"
    assert dict(getattr(registry["email"], "context").options) == {}  # noqa: B009


def test_the_worker_refuses_to_start_naming_the_provider(tmp_path: Path) -> None:
    config = {
        **BASE_CONFIG,
        "channels": {"email": {"providers": [RELAYS[0], {"name": "backup", "env": "NOPE_"}]}},
    }
    done = worker_with_config(tmp_path, config, RELAY_A_HOST="127.0.0.1")
    assert done.returncode != 0
    assert "channels.email.providers[1]" in done.stderr


def test_a_half_open_circuit_lets_one_trial_through_at_a_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker("test provider", CircuitPolicy(failures=2, cool_down_seconds=10), lambda: now[0])
    breaker.failed("pass")
    assert breaker.state == "closed"
    breaker.failed("pass")
    assert (breaker.state, breaker.acquire(), breaker.remaining()) == ("open", None, 10)
    now[0] = 10.0
    assert breaker.acquire() == "trial"
    assert breaker.acquire() is None, "a second trial while the first runs"
    breaker.failed("trial")  # a failed trial opens it for another cool-down at once
    assert (breaker.state, breaker.acquire()) == ("open", None)
    now[0] = 20.0
    assert breaker.acquire() == "trial"
    breaker.abandoned("trial")  # nothing was sent: the trial is free again
    assert breaker.acquire() == "trial"
    breaker.succeeded()
    assert (breaker.state, breaker.acquire()) == ("closed", "pass")
