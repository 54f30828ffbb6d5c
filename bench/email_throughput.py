"""E-mails per second end to end, against smtplib at the same parallelism, side by side in one run.

    .venv/bin/python -m bench.email_throughput [--count 10000] [--processes 2] [--threads 8] [--warmup 2000]
                                               [--apprise-count 300]

Tidings (bench.cluster_send): ``POST /send`` to a cluster of ``--count`` users → ``tidings api`` →
fan-out and delivery in ``tidings worker --processes P --threads T`` → Postfix's ``smtp-sink`` on
loopback; timed from the request to the last delivery marked sent, after a warm-up dispatch of
``--warmup`` other users (not timed). Every mail carries its signed List-Unsubscribe link (the secret
key is set, as ``tidings worker`` requires).

The fair peer sends the same mails to the same sink with ``smtplib``, **reused connections, P processes ×
T threads** (bench.baselines.parallel_rate: each thread keeps one connection for its share). Two weaker
references give context: one ``smtplib`` connection reused by one process, and one connection per mail
from one process (what people write by hand); and Apprise (``mailto://``, one connection per
notification) for ``--apprise-count`` mails. Each line prints the CPU per mail of every process group
(database, workers, API, Redis, smtp-sink, the sender processes, this process), which other load on
the machine hardly changes, unlike the rates.
Targets (issue 15): Tidings ≥ 2× the fair peer, ≤ 450 µs CPU per mail across all processes.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import smtplib
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from bench.baselines import Figure, OpenSender, measured, parallel_rate, print_figures
from bench.cluster_send import add_stack_arguments, stack_environ, timed_cluster_send
from bench.mail_stack import CLUSTER, CONFIG, CpuMeter, SmtpSinkProcess, Workers, user_batches
from host.storage.devdb import DevDatabase
from tests.services import RedisServer

SUBJECT = "Hello {{user.name}}"
WARMUP_CLUSTER = "bench-mail-warmup"
CONTENT = "Dear {{user.name}}, your appointment is on {{data.date}}."


def message(i: int) -> EmailMessage:
    """The mail Tidings sends user ``i``, with the headers it writes (Date, Message-ID, one-click
    unsubscribe), so the peers build as much as the workers do."""
    mail = EmailMessage()
    mail["From"] = "noreply@tidings.test"
    mail["To"] = f"user{i}@example.test"
    mail["Subject"] = f"Hello User {i}"
    mail["Date"] = formatdate(time.time(), usegmt=True)
    mail["Message-ID"] = f"<{secrets.token_hex(16)}@tidings.test>"
    mail["List-Unsubscribe"] = f"<http://127.0.0.1/unsubscribe/{secrets.token_urlsafe(32)}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(f"Dear User {i}, your appointment is on 01/01/2030.")
    return mail


def reused_connection(port: int) -> OpenSender:
    """A sender factory for parallel_rate: one SMTP connection per thread, kept for its whole share."""

    @contextmanager
    def open_sender() -> Iterator[Callable[[int], None]]:
        with smtplib.SMTP("127.0.0.1", port) as smtp:

            def send(i: int) -> None:
                smtp.send_message(message(i))

            yield send

    return open_sender


def smtplib_pool(port: int, count: int, processes: int, threads: int, sink_pid: int | None) -> Figure:
    """The fair peer: reused connections, ``processes × threads`` senders."""
    meter = CpuMeter({"smtp-sink": sink_pid}).start()
    rate, senders = parallel_rate(count, processes, threads, reused_connection(port))
    meter.stop()
    meter.add("senders", senders)
    return Figure(
        f"smtplib, reused connections, {processes} processes × {threads} threads", rate, count, meter
    )


def smtplib_reused(port: int, count: int) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            smtp.send_message(message(i))
    return count / (time.perf_counter() - started)


def smtplib_per_mail(port: int, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message(i))
    return count / (time.perf_counter() - started)


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
    parser.add_argument("--apprise-count", type=int, default=300, help="Apprise is slow: fewer mails")
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
                    pids={"database": database.pid, "Redis": redis.pid, "smtp-sink": sink.pid},
                    unit="mails",
                    arrived=lambda: sink.received,
                )
            )
            peer = smtplib_pool(sink.port, args.count, args.processes, args.threads, sink.pid)
            pids = {"smtp-sink": sink.pid}
            figures = [
                ours,
                peer,
                measured(
                    "smtplib, reused connection, 1 process",
                    args.count,
                    pids,
                    lambda: smtplib_reused(sink.port, args.count),
                ),
                measured(
                    "smtplib, one connection per mail, 1 process",
                    args.count,
                    pids,
                    lambda: smtplib_per_mail(sink.port, args.count),
                ),
            ]
            if args.apprise_count:
                figures.append(
                    measured(
                        "apprise (mailto://), 1 process",
                        args.apprise_count,
                        pids,
                        lambda: apprise_loop(sink.port, args.apprise_count),
                    )
                )
            print_figures(
                f"e-mail, {args.count:,} mails into smtp-sink (rates; CPU per mail by process group)",
                "mails",
                figures,
                ours=ours,
                peer=peer,
                target="≥ 2×",
            )
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
