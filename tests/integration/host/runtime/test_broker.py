"""The Redis broker's ``enqueue_many`` (one round trip for a fan-out batch's messages) on a real Redis:
each message lands where ``enqueue`` puts it, a delayed one in the delay queue, and a consumer reads it.
Closing the broker (or a Redis rate limiter) closes its Redis connections at once. Async actors run on
uvloop. Its connections parse replies and pack commands with hiredis (the ``redis[hiredis]`` extra). A
batch of messages is one round trip, which loads the script again when Redis has lost it. Messages are
the JSON dramatiq's own encoder writes and reads (msgspec encodes them)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis
import uvloop
from dramatiq.asyncio import get_event_loop_thread, set_event_loop_thread
from dramatiq.encoder import JSONEncoder
from dramatiq.message import Message
from dramatiq.rate_limits.backends import RedisBackend

from host.delivery.rate_limits import ChannelThrottle, RedisWindow
from host.runtime.broker import LaneRedisBroker, MsgspecJSONEncoder, create_broker, enqueue_many
from tests.services import RedisServer
from tests.support.waiting import eventually_sync


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[LaneRedisBroker]:
    made = create_broker(redis_server.url.rsplit("/", 1)[0] + "/5")  # a database of this module only
    assert isinstance(made, LaneRedisBroker)
    made.client.flushdb()
    yield made
    made.client.flushdb()
    made.close()


def _actor(broker: dramatiq.Broker, queue: str) -> dramatiq.Actor[Any, Any]:
    def deliver(ids: list[str]) -> None:
        """Never run: the test reads the queues."""

    return dramatiq.actor(deliver, actor_name=f"deliver_{queue}", queue_name=queue, broker=broker)  # type: ignore[no-any-return,call-overload]


def test_enqueue_many_puts_each_message_where_enqueue_would(broker: LaneRedisBroker) -> None:
    now, later = _actor(broker, "many_now"), _actor(broker, "many_later")
    messages = [now.message_with_options(args=([f"d{i}"],)) for i in range(3)]
    delayed = later.message_with_options(args=(["late"],))
    enqueue_many(broker, [(message, None) for message in messages] + [(delayed, 60_000)])

    client: redis.Redis = broker.client
    assert client.llen("dramatiq:many_now") == 3
    bodies = [json.loads(body) for body in client.hvals("dramatiq:many_now.msgs")]
    assert sorted(body["args"][0][0] for body in bodies) == ["d0", "d1", "d2"]
    [waiting] = [json.loads(body) for body in client.hvals("dramatiq:many_later.DQ.msgs")]
    assert waiting["args"] == [["late"]] and waiting["options"]["eta"] > 0
    assert client.llen("dramatiq:many_later") == 0

    # a consumer of the queue gets them as dramatiq messages
    consumer = broker.consume("many_now", prefetch=3, timeout=1000)
    got = [next(consumer) for _ in range(3)]
    assert sorted(message.args[0][0] for message in got if message is not None) == ["d0", "d1", "d2"]
    consumer.close()


def test_messages_are_the_json_dramatiqs_own_encoder_reads_and_writes(broker: LaneRedisBroker) -> None:
    assert isinstance(dramatiq.get_encoder(), MsgspecJSONEncoder)  # create_broker set it
    actor = _actor(broker, "encoded")
    ids = [f"6566:email:Zoë-{i}" for i in range(200)] + ['a"quote\\and\u2028line']
    sent = actor.message_with_options(args=(ids,))
    enqueue_many(broker, [(sent, None)])
    [body] = broker.client.hvals("dramatiq:encoded.msgs")
    # what an older Tidings (dramatiq's JSONEncoder) reads from it, and what it would have written
    read = JSONEncoder().decode(body)
    assert (read["args"], read["message_id"], read["actor_name"]) == ([ids], sent.message_id, sent.actor_name)
    older = JSONEncoder().encode(sent.asdict())  # e.g. left in Redis across an upgrade
    assert older != sent.encode()  # dramatiq's escapes non-ASCII, msgspec writes UTF-8
    assert Message.decode(older) == Message.decode(sent.encode()) == sent


def _script_exists_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if "script" in k and "exists" in k)


def test_enqueue_many_is_one_round_trip_without_asking_for_the_script(broker: LaneRedisBroker) -> None:
    actor = _actor(broker, "many_sha")
    enqueue_many(broker, [(actor.message_with_options(args=(["warm"],)), None)])  # the script is loaded
    asked = _script_exists_calls(broker.client)
    enqueue_many(broker, [(actor.message_with_options(args=([f"d{i}"],)), None) for i in range(3)])
    assert _script_exists_calls(broker.client) == asked  # redis-py's pipeline asks before every execute
    assert broker.client.llen("dramatiq:many_sha") == 4


def test_enqueue_many_loads_the_script_a_restarted_redis_lacks(broker: LaneRedisBroker) -> None:
    now, later = _actor(broker, "many_flushed"), _actor(broker, "many_flushed_later")
    enqueue_many(broker, [(now.message_with_options(args=(["before"],)), None)])
    broker.client.script_flush()  # as after a restart: every call by SHA answers NOSCRIPT
    messages = [(now.message_with_options(args=([f"d{i}"],)), None) for i in range(2)]
    enqueue_many(broker, [*messages, (later.message_with_options(args=(["late"],)), 60_000)])
    assert broker.client.llen("dramatiq:many_flushed") == 3  # each once
    assert broker.client.hlen("dramatiq:many_flushed_later.DQ.msgs") == 1


def test_after_enqueue_many_enqueue_talks_to_redis_at_once_again(broker: LaneRedisBroker) -> None:
    actor = _actor(broker, "many_after")
    enqueue_many(broker, [(actor.message_with_options(args=(["a"],)), None)])
    actor.send(["b"])  # not left in a pipeline nobody executes
    assert broker.client.llen("dramatiq:many_after") == 2


def test_enqueue_many_raises_when_redis_is_gone() -> None:
    server = RedisServer().start()
    broker = create_broker(server.url)
    actor = _actor(broker, "many_gone")
    server.stop()
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            enqueue_many(broker, [(actor.message_with_options(args=(["x"],)), None)])
    finally:
        broker.close()


def _connections_named(redis_server: RedisServer, name: str) -> int:
    """How many connections Redis lists under this client name (asked over a connection of its own)."""
    with redis.Redis.from_url(redis_server.url) as watcher:
        return sum(1 for client in watcher.client_list() if client["name"] == name)


def _wait_until_closed(redis_server: RedisServer, name: str, what: str) -> None:
    eventually_sync(
        lambda: _connections_named(redis_server, name),
        until=lambda count: count == 0,
        timeout=5,
        what=what,
    )


def test_the_brokers_connections_speak_through_hiredis(broker: LaneRedisBroker) -> None:
    from redis._parsers import _HiredisParser
    from redis.connection import HiredisRespSerializer

    broker.client.ping()
    connection = broker.client.connection_pool.get_connection()
    try:
        assert isinstance(connection._parser, _HiredisParser)
        assert isinstance(connection._command_packer, HiredisRespSerializer)
    finally:
        broker.client.connection_pool.release(connection)


def test_closing_the_broker_closes_its_redis_connections(redis_server: RedisServer) -> None:
    # dramatiq's own close leaves them to the cyclic garbage collector (the broker and its actors refer
    # to each other), which finalizes a socket whenever it runs: a ResourceWarning in some later test
    name = f"broker-{secrets.token_hex(4)}"
    made = create_broker(f"{redis_server.url}?client_name={name}")
    _actor(made, "closing")
    made.client.ping()
    assert _connections_named(redis_server, name) == 1

    made.close()

    _wait_until_closed(redis_server, name, "the broker's connection closed")


def test_closing_a_redis_throttle_closes_its_connections(redis_server: RedisServer) -> None:
    name = f"throttle-{secrets.token_hex(4)}"
    backend = RedisBackend(url=f"{redis_server.url}?client_name={name}")
    throttle = ChannelThrottle(RedisWindow(backend, f"test-{name}", limit=5, window=1), 5)
    assert throttle.source.try_acquire()
    assert _connections_named(redis_server, name) == 1

    throttle.close()

    _wait_until_closed(redis_server, name, "the throttle's connection closed")


def test_async_actors_run_on_uvloop() -> None:
    broker = create_broker(None)  # the embedded broker: the same middleware as Redis's
    loops: list[type] = []

    async def note_loop() -> None:
        loops.append(type(asyncio.get_running_loop()))

    actor = dramatiq.actor(note_loop, actor_name="note_loop", queue_name="note_loop", broker=broker)
    # dramatiq keeps one event-loop thread per process: the stacks of other tests have theirs there
    theirs = get_event_loop_thread()
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        actor.send()
        broker.join("note_loop", fail_fast=True)
        worker.join()
    finally:
        worker.stop()
        set_event_loop_thread(theirs)
    assert loops == [uvloop.Loop]
