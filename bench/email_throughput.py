"""E-mails per second end to end, against a plain smtplib loop and Apprise, in one run.

    .venv/bin/python -m bench.email_throughput [--count 10000] [--processes 2] [--threads 8] [--warmup 2000]

Tidings: ``POST /send`` to a cluster of ``--count`` users (the app through Litestar's test client, a
Redis broker) → fan-out and delivery in ``dramatiq host.runtime.worker_app`` subprocesses → Postfix's
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

from bench.cluster_send import add_stack_arguments, stack_environ, timed_cluster_send
from bench.mail_stack import CLUSTER, CONFIG, CpuMeter, SmtpSinkProcess, Workers, user_batches
from host.storage.devdb import DevDatabase
from tests.services import RedisServer

SUBJECT = "Hello {{user.name}}"
WARMUP_CLUSTER = "bench-mail-warmup"
CONTENT = "Dear {{user.name}}, your appointment is on {{data.date}}."


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
    add_stack_arguments(parser, warmup=2000, unit="mails")
    parser.add_argument("--apprise-count", type=int, default=2000, help="Apprise is slow: fewer mails")
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            DevDatabase(max_heap="1g") as database,
            SmtpSinkProcess() as sink,
        ):
            environ = stack_environ(
                Path(tmp),
                CONFIG,
                database.url,
                redis.url,
                "tidings_mail_bench",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(sink.port),
            )
            pids = {"database": database.pid, "smtp-sink": sink.pid}
            ours = asyncio.run(
                timed_cluster_send(
                    environ,
                    count=args.count,
                    warmup=args.warmup,
                    clusters=(CLUSTER, WARMUP_CLUSTER),
                    users=lambda count, cluster, first: user_batches(count, cluster=cluster, first=first),
                    body={
                        "channels": ["email"],
                        "messageTitle": SUBJECT,
                        "messageContent": CONTENT,
                        "data": {"date": "01/01/2030"},
                    },
                    workers=Workers(environ, args.processes, args.threads),
                    pids=pids,
                    unit="mails",
                    arrived=lambda: sink.received,
                )
            )
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
