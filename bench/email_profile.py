"""Where a worker's time goes per e-mail: the delivery path profiled in-process with pyinstrument.

    .venv/bin/python -m bench.email_profile [--count 2000]

The dispatch is expanded with an enqueue that keeps the batches; each batch then goes through
``DeliveryWorker.deliver`` on this loop (what the ``deliver_email`` actor runs) into Postfix's smtp-sink.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from pyinstrument import Profiler

from bench.mail_stack import held_worker_runtime, in_process_stack, send_to_cluster


async def run(environ: dict[str, str], count: int) -> None:
    runtime, batches = await held_worker_runtime(environ, count)
    await send_to_cluster(runtime)
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
    with in_process_stack("tidings_profile") as (environ, _pids):
        asyncio.run(run(environ, args.count))


if __name__ == "__main__":
    main()
