"""High-priority e-mails while a bulk dispatch drains: how long they take, and what they cost the bulk.

    .venv/bin/python -m bench.priority_lanes [--count 100000] [--processes 2] [--threads 8]
        [--interval 0.1] [--window 2] [--probe-priority high] [--reserved N]

A cluster of ``--count`` users gets one e-mail each (``POST /send``, the ``bulk`` lane by its size);
everything runs as in production, each in a process of its own: ``tidings api`` (sent to over HTTP), fan-out
and delivery in real ``tidings worker`` processes, Redis, the development database; mail goes to
Postfix's C ``smtp-sink``, which appends every transaction to
a dump file (``-D``) that this process tails, so it sees when each probe arrived. While the bulk
drains, windows of ``--window`` seconds alternate: in one, a single-recipient ``high`` e-mail (a probe)
is sent every ``--interval`` seconds; in the next, none. Printed: the probes' latency from ``/send`` to
their arrival at the sink (p50, p99, max), and the bulk e-mails arriving per second in the windows
without probes (the solo figure) and with them, from the same run (windows in the first and last 5% of
the bulk are left out: fan-out ramp and tail). ``--probe-priority bulk`` sends the probes in the bulk
lane instead: what a single queue would give them; ``--reserved 0`` keeps no thread for ``high``.
Targets (issue 13): high p99 ≤ 1 s, bulk with probes ≥ 90% of solo.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from bench.cluster_send import stack_environ
from bench.mail_stack import CONFIG, ApiProcess, CpuMeter, SmtpSinkProcess, Workers, user_batches
from host.access.api_keys import ApiKeys
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.services import RedisServer
from tests.support.worker_processes import wait_for_workers

BULK_CLUSTER, WARM_CLUSTER = "lanes-bulk", "lanes-warm"
PROBE = re.compile(rb"X-Rcpt-Args: <(probe-\d+)@")
BODY = {"channels": ["email"], "messageTitle": "Hello {{user.name}}", "messageContent": "Dear {{user.name}}."}


class Arrivals(threading.Thread):
    """Tails smtp-sink's dump file: when each probe's transaction appeared (``time.perf_counter``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.path.exists() and not self.stopping.is_set():
            time.sleep(0.005)
        tail = b""
        with self.path.open("rb") as dump:
            while not self.stopping.is_set():
                chunk = dump.read(1 << 20)
                if not chunk:
                    time.sleep(0.002)
                    continue
                now = time.perf_counter()
                data = tail + chunk
                for found in PROBE.finditer(data):
                    self.seen.setdefault(found.group(1).decode(), now)
                tail = data[-128:]


class Counter(threading.Thread):
    """Samples the sink's count of received mails every 10 ms: (time.perf_counter, count)."""

    def __init__(self, sink: SmtpSinkProcess) -> None:
        super().__init__(daemon=True)
        self.sink = sink
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append((time.perf_counter(), self.sink.received))
            time.sleep(0.01)

    def at(self, when: float) -> int:
        """The count at ``when`` (the last sample before it)."""
        count = 0
        for sampled, value in self.samples:
            if sampled > when:
                break
            count = value
        return count

    def when(self, count: int) -> float:
        """The first sample with at least ``count`` mails."""
        return next(sampled for sampled, value in self.samples if value >= count)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(
    args: argparse.Namespace,
    environ: dict[str, str],
    sink: SmtpSinkProcess,
    dump: Path,
    pids: dict[str, int | None],
) -> None:
    settings = load_settings(environ)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(environ["MONGODB_URL"], tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    for batch in user_batches(args.count, cluster=BULK_CLUSTER):
        await db["users"].insert_many(batch)
    for batch in user_batches(args.warmup, cluster=WARM_CLUSTER, first=args.count):
        await db["users"].insert_many(batch)
    probes_max = int(args.count / 500 / args.interval) + 200  # ample at 500 mails/s
    probe_users = [{"fiscalCode": f"probe-{i}", "mail": f"probe-{i}@lanes.test"} for i in range(probes_max)]
    await db["users"].insert_many(probe_users)
    api = await asyncio.to_thread(ApiProcess(environ).start)  # it applies the migrations first
    key = await ApiKeys(db).create("bench", ["send"], created_by="bench")
    since = time.time()
    workers = Workers(environ, args.processes, args.threads).start()
    arrivals, counter = Arrivals(dump), Counter(sink)
    arrivals.start()
    counter.start()
    sent_at: dict[str, float] = {}
    try:
        # aiohttp, not httpx: the probes' client shares the 2 cores with what it measures, and httpx's
        # client costs ~1.3 ms of CPU a request here against aiohttp's ~0.25 ms
        async with aiohttp.ClientSession(
            api.url, headers={"Authorization": f"Bearer {key.key}"}, timeout=aiohttp.ClientTimeout(total=60)
        ) as client:
            next_probe = 0

            async def send(body: dict[str, Any]) -> None:
                async with client.post("/send", json={**BODY, **body}) as response:
                    text = await response.text()
                assert response.status == 200, text

            async def probe() -> None:
                nonlocal next_probe
                name = f"probe-{next_probe}"
                next_probe += 1
                sent_at[name] = time.perf_counter()
                await send({"recipients": [name], "priority": args.probe_priority})

            async def until(what: str, done: Any, timeout: float) -> None:
                deadline = time.monotonic() + timeout
                while not done():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"timed out waiting for {what}")
                    await asyncio.sleep(0.02)

            await asyncio.to_thread(  # every worker process takes messages
                wait_for_workers, environ["REDIS_URL"], args.processes, since=since, watch=(workers,)
            )
            base = sink.received
            await send({"clusters": [WARM_CLUSTER]})
            for _ in range(20):
                await probe()
                await asyncio.sleep(0.05)
            await until("the warm-up", lambda: sink.received >= base + args.warmup + 20, 300)
            print(f"warm-up: {args.warmup:,} bulk + 20 probes (not counted)")
            warm_probes = set(sent_at)

            base = sink.received
            load_before = os.getloadavg()
            # "this process" is the probes' client and the sink's tails
            meter = CpuMeter({**pids, "smtp-sink": sink.pid, "workers": workers.pid, "API": api.pid}).start()
            started = time.perf_counter()
            await send({"clusters": [BULK_CLUSTER]})
            answered = time.perf_counter()
            windows: list[tuple[float, float, bool]] = []  # (from, to, with probes)
            sent_before = len(sent_at)

            def bulk_arrived() -> int:
                probes_arrived = sum(1 for name in sent_at if name in arrivals.seen) - len(warm_probes)
                return sink.received - base - probes_arrived

            while bulk_arrived() < args.count:
                begins = time.perf_counter()
                with_probes = len(windows) % 2 == 1
                while time.perf_counter() - begins < args.window and bulk_arrived() < args.count:
                    if with_probes:
                        await probe()
                        tick = sent_at[f"probe-{next_probe - 1}"] + args.interval
                        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
                    else:
                        await asyncio.sleep(0.01)
                windows.append((begins, time.perf_counter(), with_probes))
            finished = time.perf_counter()
            meter.stop()
            probes = [name for name in sent_at if name not in warm_probes]
            await until("every probe", lambda: all(name in arrivals.seen for name in probes), 600)
            load_after = os.getloadavg()
    finally:
        arrivals.stopping.set()
        counter.stopping.set()
        workers.stop()
        api.stop()
        await mongo.close()

    latencies = [(arrivals.seen[name] - sent_at[name]) * 1000 for name in probes]
    slowest = sorted(probes, key=lambda name: sent_at[name] - arrivals.seen[name])[:5]
    print(
        f"bulk: {args.count:,} e-mails, /send answered in {(answered - started) * 1000:.1f} ms, all arrived "
        f"in {finished - started:.1f} s ({args.count / (finished - started):,.0f}/s overall); "
        f"{args.processes} worker processes × {args.threads} threads, "
        f"reserved for high {settings.config.lanes.reserved(args.threads)} each"
    )
    print(f"  {meter.summary(args.count, 'bulk e-mail')} (the probes' work included)")
    print(
        f"probes ({args.probe_priority}, one every {args.interval * 1000:.0f} ms in every other "
        f"{args.window:g} s window): {len(latencies)} sent ({len(sent_at) - sent_before} in the run); "
        f"latency /send → sink p50 {statistics.median(latencies):,.0f} ms, "
        f"p99 {percentile(latencies, 0.99):,.0f} ms, max {max(latencies):,.0f} ms (target p99 ≤ 1,000 ms)"
    )
    print(
        "slowest probes (sent at, after the bulk /send): "
        + ", ".join(
            f"{(arrivals.seen[name] - sent_at[name]) * 1000:,.0f} ms at {sent_at[name] - started:.1f} s"
            for name in slowest
        )
    )
    # bulk rate per window: mails that arrived in it, less the probes among them
    low, high = base + 0.05 * args.count, base + 0.95 * args.count
    inside = [w for w in windows if counter.at(w[0]) >= low and counter.at(w[1]) <= high]
    rates: dict[bool, list[tuple[int, float]]] = {True: [], False: []}
    for begins, ends, with_probes in inside:
        arrived = counter.at(ends) - counter.at(begins)
        probe_mails = sum(1 for name in probes if begins < arrivals.seen[name] <= ends)
        rates[with_probes].append((arrived - probe_mails, ends - begins))
    if not rates[True] or not rates[False]:
        print(f"only {len(inside)} windows inside 5–95% of the bulk: a larger --count or a shorter --window")
        return
    solo = sum(n for n, _ in rates[False]) / sum(t for _, t in rates[False])
    mixed = sum(n for n, _ in rates[True]) / sum(t for _, t in rates[True])
    print(
        f"bulk throughput: {solo:,.0f}/s in {len(rates[False])} windows without probes, {mixed:,.0f}/s in "
        f"{len(rates[True])} with them: {mixed / solo:.1%} (target ≥ 90%)"
    )
    print(
        f"load average (1, 5, 15 min) before {', '.join(f'{v:.2f}' for v in load_before)}; "
        f"after {', '.join(f'{v:.2f}' for v in load_after)}; {os.cpu_count()} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2000, help="bulk e-mails sent first, not counted")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between probes")
    parser.add_argument("--window", type=float, default=2.0, help="seconds of each window with or without")
    parser.add_argument("--probe-priority", choices=["high", "normal", "bulk"], default="high")
    parser.add_argument(
        "--reserved", type=int, default=None, help="lanes.reservedThreads (default: the service's, a quarter)"
    )
    args = parser.parse_args()
    config = CONFIG if args.reserved is None else {**CONFIG, "lanes": {"reservedThreads": args.reserved}}
    redis = RedisServer().start()
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            tempfile.TemporaryDirectory(dir=shm) as dumps,
            DevDatabase(max_heap="1g") as database,
        ):
            os.chmod(dumps, 0o777)  # smtp-sink drops to nobody before it writes
            dump = Path(dumps) / "sink.dump"
            with SmtpSinkProcess(dump=dump) as sink:
                environ = stack_environ(
                    Path(tmp),
                    config,
                    database.url,
                    redis.url,
                    "tidings_lanes_bench",
                    SMTP_HOST="127.0.0.1",
                    SMTP_PORT=str(sink.port),
                    TIDINGS_SECRET_KEY="bench-secret-key-for-unsubscribe-links",
                )
                pids = {"database": database.pid, "Redis": redis.pid}
                asyncio.run(run(args, environ, sink, dump, pids))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
