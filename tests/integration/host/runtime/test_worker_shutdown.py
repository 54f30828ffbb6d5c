"""A worker stopping while it sends: the message in flight finishes on its runtime, closed only afterwards."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq

from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack


class _Watch(dramatiq.Middleware):
    """When the worker starts stopping, and whether each message ended with its runtime still open."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self.stopping = threading.Event()
        self.ended: list[tuple[str, BaseException | None, bool]] = []

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stopping.set()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message[Any],
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self.ended.append((message.actor_name, exception, self._stack.actors.runtime is not None))


async def test_a_send_in_flight_when_its_worker_stops_finishes_before_the_runtime_closes(
    tmp_path: Path,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
    unique: Callable[[str], str],
) -> None:
    async with open_stack(
        tmp_path,
        devdb,
        redis_server,
        smtp_sink,
        BASE_CONFIG,
        database="tidings_shutdown",
        redis_db=15,
        session_stack=stack,
    ) as own:
        assert own.worker is not None
        watch = _Watch(own)
        own.actors.broker.add_middleware(watch)
        held = smtp_sink.hold_data()
        try:
            uid = unique("shutdown")
            await own.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
            sent = await own.send(
                {"channels": ["email"], "recipients": [uid], "messageTitle": "Bye", "messageContent": "now"}
            )
            assert await asyncio.to_thread(held.reached.wait, 30)  # the mail is mid-transaction
            stopping = asyncio.create_task(asyncio.to_thread(own.worker.stop))
            assert await asyncio.to_thread(watch.stopping.wait, 30)
            held.release()  # the worker is stopping: its message goes on from here
            await stopping
        finally:
            held.release()
            smtp_sink.reset()

        assert [(actor, exception) for actor, exception, _ in watch.ended] == [("deliver_email", None)]
        assert [open_ for _, _, open_ in watch.ended] == [True]  # its runtime was closed after it
        assert own.actors.runtime is None
        delivery = await own.db["deliveries"].find_one({"dispatch_id": sent["dispatchId"]})
        assert delivery is not None and (delivery["status"], delivery["attempts"]) == ("sent", 1)
