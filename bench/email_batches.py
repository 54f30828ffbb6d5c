"""CPU per e-mail by batch size: the worker's delivery path on one loop, batch sizes interleaved.

    .venv/bin/python -m bench.email_batches [--sizes 100,200,400] [--count 4000] [--rounds 6] [--lanes 4]

Each round sends one dispatch of ``--count`` mails per size into Postfix's smtp-sink: the dispatch is
expanded with an enqueue that keeps its batches, whose ids are cut again into batches of that size and
sent through ``DeliveryWorker.deliver`` (what the ``deliver_email`` actor runs), ``--lanes`` batches at
a time as a worker's threads take them. CPU per mail is printed for this process (the worker's code:
the accept and expansion before it are not measured), the development database and smtp-sink; the
first round warms up and is not printed. A batch costs the worker a share that does not depend on its
size (its SMTP connection, ~11 database round trips): what ``EmailChannel.limits.batch_size`` weighs
against the sends a killed worker may leave unrecorded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import uvloop

from bench.mail_stack import CpuMeter, held_worker_runtime, in_process_stack, send_to_cluster
from host.runtime.collector import settle_collector
from host.runtime.wiring import Runtime


async def planned_ids(runtime: Runtime, held: list[list[str]]) -> list[str]:
    """The delivery ids of one new dispatch to the cluster, accepted and expanded (not measured)."""
    held.clear()
    await send_to_cluster(runtime)
    return [delivery_id for batch in held for delivery_id in batch]


async def send_in_batches(runtime: Runtime, ids: list[str], size: int, lanes: int) -> None:
    """The deliveries sent in batches of ``size``, ``lanes`` batches at a time."""
    waiting = [ids[start : start + size] for start in range(0, len(ids), size)]

    async def lane() -> None:
        while waiting:
            await runtime.delivery.deliver("email", waiting.pop())

    await asyncio.gather(*(lane() for _ in range(lanes)))


async def run(environ: dict[str, str], pids: dict[str, int | None], args: argparse.Namespace) -> None:
    runtime, held = await held_worker_runtime(environ, args.count)
    settle_collector()  # as a worker's boot does
    sizes = [int(size) for size in args.sizes.split(",")]
    worker_cpu: dict[int, list[float]] = {size: [] for size in sizes}
    for round_ in range(args.rounds + 1):
        for size in sizes:
            ids = await planned_ids(runtime, held)
            meter = CpuMeter(pids)
            meter.start()
            started = time.perf_counter()
            await send_in_batches(runtime, ids, size, args.lanes)
            elapsed = time.perf_counter() - started
            sent = len(ids)
            meter.stop()
            if round_:  # the first round warms the database's JIT up
                worker_cpu[size].append(meter.spent["this process"] / sent * 1e6)
                rate = f"{sent / elapsed:,.0f} mails/s"
                print(f"round {round_}, batches of {size}: {rate}; {meter.summary(sent, 'mail')}")
    for size in sizes:
        print(
            f"batches of {size}: worker CPU per mail, median over {args.rounds} rounds = "
            f"{statistics.median(worker_cpu[size]):.0f} µs"
        )
    await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,200,400", help="batch sizes, comma-separated")
    parser.add_argument("--count", type=int, default=4000, help="mails per size and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--lanes", type=int, default=4, help="batches sent at a time")
    args = parser.parse_args()
    with in_process_stack("tidings_batches") as (environ, pids):
        uvloop.run(run(environ, pids, args))


if __name__ == "__main__":
    main()
