"""E-mails per second end to end, against a plain smtplib loop and Apprise, in one run.

    .venv/bin/python -m bench.email_throughput [--count 10000] [--processes 2] [--threads 8] [--warmup 2000]

Tidings: ``POST /send`` to a cluster of ``--count`` users (the app through Litestar's test client, a
Redis broker) → fan-out and delivery in ``dramatiq host.worker_app`` subprocesses → Postfix's
``smtp-sink`` on loopback; timed from the request to the last delivery marked sent, after a warm-up
dispatch of ``--warmup`` other users (not timed). CPU seconds of every process are printed beside the
rates: unlike a rate, they hardly move when other programs load the machine. The references send
the same mails to the same sink from this process: ``smtplib`` with one connection per mail (what people
write by hand), and Apprise (``mailto://``), also one connection per notification.
Targets (issue 7): ≥ 1,000 mails/s and ≥ 2× smtplib.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import dramatiq
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from bench.mail_stack import CLUSTER, CpuMeter, SmtpSinkProcess, Workers, user_batches, write_config
from host.actors import declare_actors
from host.api.app import create_app
from host.api_keys import ApiKeys
from host.broker import create_broker
from host.devdb import DevDatabase
from host.settings import load_settings
from tests.services import RedisServer

SUBJECT = "Hello {{user.name}}"
WARMUP_CLUSTER = "bench-mail-warmup"
CONTENT = "Dear {{user.name}}, your appointment is on {{data.date}}."


async def tidings(
    environ: dict[str, str],
    count: int,
    warmup: int,
    workers: Workers,
    sink: SmtpSinkProcess,
    database: int | None,
) -> float:
    settings = load_settings(environ)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(environ["MONGODB_URL"], tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    for batch in user_batches(count):
        await db["users"].insert_many(batch)
    for batch in user_batches(warmup, cluster=WARMUP_CLUSTER, first=count):
        await db["users"].insert_many(batch)
    key = await ApiKeys(db).create("bench", ["send"], created_by="bench")
    broker = create_broker(settings.env.redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    workers.start()
    try:
        async with AsyncTestClient(create_app(actors)) as client:

            async def send(cluster: str, mails: int) -> None:
                """POST /send and return once every mail is marked sent."""
                before, sent_before = (
                    sink.received,
                    await db["deliveries"].count_documents({"status": "sent"}),
                )
                response = await client.post(
                    "/send",
                    headers={"Authorization": f"Bearer {key.key}"},
                    json={
                        "clusters": [cluster],
                        "channels": ["email"],
                        "messageTitle": SUBJECT,
                        "messageContent": CONTENT,
                        "data": {"date": "01/01/2030"},
                    },
                )
                assert response.status_code == 200, response.text
                # counting deliveries scans the collection: wait on the sink first, then on the last results
                while sink.received - before < mails:
                    await asyncio.sleep(0.01)
                while await db["deliveries"].count_documents({"status": "sent"}) - sent_before < mails:
                    await asyncio.sleep(0.01)

            await asyncio.sleep(3)  # let the worker processes boot
            if warmup:
                # a fresh JVM runs the development database's code interpreted until the JIT compiles it
                # (measured: 3-5x the CPU per operation); a running service is warm
                started = time.perf_counter()
                await send(WARMUP_CLUSTER, warmup)
                print(f"warm-up: {warmup:,} mails in {time.perf_counter() - started:.2f} s (not counted)")
            meter = CpuMeter({"database": database, "smtp-sink": sink.pid, "workers": workers.pid})
            meter.start()
            started = time.perf_counter()
            await send(CLUSTER, count)
            elapsed = time.perf_counter() - started
            meter.stop()
            failed = await db["deliveries"].count_documents({"status": "failed"})
            print(f"tidings: {count:,} sent, {failed} failed in {elapsed:.2f} s; {meter.summary(count)}")
            return count / elapsed
    finally:
        workers.stop()
        broker.close()
        await mongo.close()


def message(i: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "noreply@tidings.test"
    mail["To"] = f"user{i}@example.test"
    mail["Subject"] = f"Hello User {i}"
    mail.set_content(f"Dear User {i}, your appointment is on 01/01/2030.")
    return mail


def smtplib_loop(port: int, count: int, pids: dict[str, int | None]) -> float:
    meter = CpuMeter(pids)
    meter.start()
    started = time.perf_counter()
    for i in range(count):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message(i))
    rate = count / (time.perf_counter() - started)
    meter.stop()
    print(f"smtplib loop: {count:,} mails at {rate:,.0f}/s; {meter.summary(count)}")
    return rate


def apprise_loop(port: int, count: int) -> float:
    import logging

    import apprise

    logging.getLogger("apprise").setLevel(logging.WARNING)
    started = time.perf_counter()
    for i in range(count):
        notifier = apprise.Apprise()
        notifier.add(
            f"mailto://127.0.0.1:{port}?mode=insecure&from=noreply@tidings.test&to=user{i}@example.test"
        )
        if not notifier.notify(
            title=f"Hello User {i}", body=f"Dear User {i}, your appointment is on 01/01/2030."
        ):
            raise RuntimeError("apprise could not send")
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2000, help="mails sent first, not timed")
    parser.add_argument("--apprise-count", type=int, default=2000, help="Apprise is slow: fewer mails")
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            DevDatabase(max_heap="1g") as database,
            SmtpSinkProcess() as sink,
        ):
            environ = {
                "CONFIGURATION_PATH": str(write_config(Path(tmp))),
                "MONGODB_URL": database.url,
                "MONGODB_DATABASE": "tidings_mail_bench",
                "REDIS_URL": redis.url,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(sink.port),
                "TIDINGS_AUTO_MIGRATE": "1",
            }
            pids = {"database": database.pid, "smtp-sink": sink.pid}
            workers = Workers(environ, args.processes, args.threads)
            ours = asyncio.run(tidings(environ, args.count, args.warmup, workers, sink, database.pid))
            plain = smtplib_loop(sink.port, args.count, pids)
            bare_apprise = apprise_loop(sink.port, args.apprise_count)
            print(f"apprise: {args.apprise_count:,} mails at {bare_apprise:,.0f}/s")
            print(
                f"tidings {ours:,.0f} mails/s (target ≥ 1,000); {ours / plain:.2f}× smtplib (target ≥ 2×); "
                f"{ours / bare_apprise:.2f}× apprise"
            )
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
