"""Where a worker's time goes per e-mail: the delivery path profiled in-process with pyinstrument.

    .venv/bin/python -m bench.email_profile [--count 2000]

The dispatch is expanded with an enqueue that keeps the batches; each batch then goes through
``DeliveryWorker.deliver`` on this loop (what the ``deliver_email`` actor runs) into Postfix's smtp-sink.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from pyinstrument import Profiler

from bench.mail_stack import CLUSTER, SmtpSinkProcess, user_batches, write_config
from host.dispatch.schemas import SendRequest
from host.runtime.wiring import Runtime
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from host.storage.migrations import ensure_migrated
from tests.support.configs import TEST_SECRET_KEY


async def run(environ: dict[str, str], count: int) -> None:
    settings = load_settings(environ)
    await ensure_migrated(settings, apply=True)
    batches: list[list[str]] = []
    runtime = Runtime(settings, lambda _channel, ids, _delay, _lane: batches.append(ids), lambda _d: None)
    await runtime.store.ensure_user_indexes()
    for users in user_batches(count):
        await runtime.store.users.insert_many(users)
    await runtime.start_worker(None)
    accepted = await runtime.dispatch.accept(
        SendRequest(
            clusters=[CLUSTER],
            channels=["email"],
            message_title="Hello {{user.name}}",
            message_content="Dear {{user.name}}, your appointment is on {{data.date}}.",
            data={"date": "01/01/2030"},
        )
    )
    await runtime.dispatch.expand(accepted.dispatch_id)
    profiler = Profiler(async_mode="enabled")
    started = time.perf_counter()
    profiler.start()
    for ids in batches:
        await runtime.delivery.deliver("email", ids)
    profiler.stop()
    elapsed = time.perf_counter() - started
    print(f"{count:,} mails through DeliveryWorker.deliver on one loop: {count / elapsed:,.0f}/s")
    profiler.print(show_all=False)
    await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        DevDatabase(max_heap="1g") as database,
        SmtpSinkProcess() as sink,
    ):
        environ = {
            "CONFIGURATION_PATH": str(write_config(Path(tmp))),
            "MONGODB_URL": database.url,
            "MONGODB_DATABASE": "tidings_profile",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            # as `tidings worker` requires: every mail carries its signed List-Unsubscribe link
            "TIDINGS_SECRET_KEY": TEST_SECRET_KEY,
        }
        asyncio.run(run(environ, args.count))


if __name__ == "__main__":
    main()
