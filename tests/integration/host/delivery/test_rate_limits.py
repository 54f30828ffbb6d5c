"""A channel's rate holds across two worker processes (dramatiq's window limiter on Redis), measured.

Two ``tidings worker`` processes share a Redis of their own and a database of their own; the limit is
``channels.sms.ratePerSecond`` from the configuration file. What the Twilio fake received, counted per
calendar second (the limiter's window), never exceeds it. When the limit binds, a ``high`` waiter
counting in another process's limiter gets the next second's first slot.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dramatiq.rate_limits.backends import RedisBackend

from host.delivery.rate_limits import KEY_PREFIX, ChannelThrottle, RedisWindow
from host.dispatch.schemas import SendRequest
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.runtime.wiring import Runtime
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from host.storage.migrations import ensure_migrated
from tests.fakes.twilio import FakeTwilio
from tests.services import RedisServer
from tests.support.channel_users import phone_for
from tests.support.cli_runs import TidingsProcess
from tests.support.configs import TWILIO_SENDER
from tests.support.throttles import race_for_slots
from tests.support.waiting import eventually

RATE = 5
DISPATCHES, USERS_EACH = 6, 5  # six actor messages: more than one worker prefetches (2 threads × 2)
READY = "is ready for action"  # dramatiq's log line once a worker process consumes


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def environ(
    tmp_path: Path,
    devdb: DevDatabase,
    own_redis: RedisServer,
    own_twilio: FakeTwilio,
    unique: Callable[[str], str],
) -> dict[str, str]:
    config = {
        "activeChannels": ["sms"],
        "sender": {"sms": TWILIO_SENDER},
        "userFields": {"id": "fiscalCode"},
        "channels": {"sms": {"ratePerSecond": RATE}},
    }
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps(config))
    environ = {
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": devdb.url,
        "MONGODB_DATABASE": unique("rate").replace("-", "_"),
        "REDIS_URL": own_redis.url,
        "TWILIO_ACCOUNT_SID": own_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": own_twilio.auth_token,
        "TWILIO_API_BASE": own_twilio.url,
    }
    await ensure_migrated(load_settings(environ), apply=True)  # workers refuse a database behind the code
    return environ


@pytest.fixture
def workers(environ: dict[str, str], tmp_path: Path) -> Iterator[list[TidingsProcess]]:
    args = ["worker", "--processes", "1", "--threads", "2"]
    env = {**environ, "PYTHONUNBUFFERED": "1"}
    started = [TidingsProcess(args, env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        # both must be consuming before anything is enqueued, or the first one up prefetches it all
        for process in started:
            process.wait_for(lambda line: READY in line, "the worker process to consume", timeout=60)
        yield started
    finally:
        for process in started:
            process.stop()


async def test_rate_holds_across_two_worker_processes(
    environ: dict[str, str],
    workers: list[TidingsProcess],
    own_twilio: FakeTwilio,
    unique: Callable[[str], str],
) -> None:
    settings = load_settings(environ)
    broker = create_broker(settings.env.redis_url)
    actors = declare_actors(broker, settings, sweep_interval=None)  # enqueues only: no worker here
    runtime = Runtime(settings, actors.enqueue_delivery, actors.schedule_expansion)
    try:
        users = [
            {"fiscalCode": unique(f"r{n}"), "phoneNumber": phone_for(unique(f"r{n}"))}
            for n in range(DISPATCHES * USERS_EACH)
        ]
        await runtime.store.users.insert_many(users)
        dispatch_ids = []
        for start in range(0, len(users), USERS_EACH):
            request = SendRequest(
                channels=["sms"],
                recipients=[u["fiscalCode"] for u in users[start : start + USERS_EACH]],
                message_title="T",
                message_content="Hi {{user.fiscalCode}}",
            )
            dispatch_ids.append((await runtime.dispatch.accept(request)).dispatch_id)

        async def statuses_now() -> collections.Counter[str]:
            for process in workers:
                assert process.process.poll() is None, "a worker process died"
            return collections.Counter(
                [d["status"] async for d in runtime.store.deliveries.find({}, {"status": 1})]
            )

        statuses = await eventually(
            statuses_now,
            until=lambda counts: counts["sent"] + counts["failed"] == len(users),
            timeout=90,
            interval=0.2,
            what=f"all {len(users)} SMS settled",
        )
        assert statuses == {"sent": len(users)}

        arrivals = sorted(m.at for m in own_twilio.messages)
        assert len(arrivals) == len(users)
        per_second = collections.Counter(int(at) for at in arrivals)
        pids = {a["worker"] async for a in runtime.store.attempts.find({}, {"worker": 1})}
        span = arrivals[-1] - arrivals[0]
        print(
            f"\nrate limit {RATE}/s, 2 worker processes, {len(arrivals)} SMS in {span:.2f} s "
            f"({(len(arrivals) - 1) / span:.2f}/s); per calendar second: "
            f"{[per_second[s] for s in sorted(per_second)]}; attempts by {len(pids)} workers"
        )
        assert max(per_second.values()) <= RATE
        assert len(pids) == 2, f"both worker processes should have sent: {pids}"
        attempts = [a async for a in runtime.store.attempts.find({}, {"number": 1})]
        assert {a["number"] for a in attempts} == {1}  # waiting for a slot is not a failed attempt
    finally:
        await runtime.close()
        broker.close()


async def test_when_the_shared_limit_binds_high_in_another_process_is_served_first(
    own_redis: RedisServer, unique: Callable[[str], str]
) -> None:
    key = KEY_PREFIX + unique("lanes")
    # two limiters on one Redis key, as two worker processes build them (host.delivery.rate_limits)
    bulk_process = ChannelThrottle(RedisWindow(RedisBackend(url=own_redis.url), key, limit=2, window=1), 2)
    high_process = ChannelThrottle(RedisWindow(RedisBackend(url=own_redis.url), key, limit=2, window=1), 2)
    taken = await race_for_slots(bulk_process, high_process, bulk_waiters=6, limit=2)
    [(_, second)] = [slot for slot in taken if slot[0] == "high"]
    assert second > taken[0][1]
    assert next(lane for lane, at in taken if at == second) == "high", taken
    assert max(collections.Counter(at for _, at in taken).values()) <= 2  # and the limit still holds
