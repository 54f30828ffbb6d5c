"""``tidings worker`` in child processes, as an operator runs it: for the fault tests and the benchmarks.

:class:`WorkerProcesses` starts ``tidings worker --processes N --threads M`` (the command's own start-up
checks included: configuration, migrations, ``TIDINGS_SECRET_KEY``) with an environment of the caller's,
so a test or a bench can ``kill -9`` one worker process, or all of them, and start them again.
:func:`wait_for_workers` waits until that many worker processes take messages from Redis: every dramatiq
consumer writes a heartbeat into ``dramatiq:__heartbeats__`` on each fetch, and it fetches only once its
``before_worker_boot`` (the worker's Runtime) is done.

:data:`MAIL_CONFIG` and :func:`mail_users` are the e-mail configuration and user clusters both use;
:class:`MailLedger` is what an SMTP sink (tests.fakes.smtp) hands every arrival to, so a run can count
sends per recipient and see the Message-ID of each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import redis

from tests.fakes.smtp import ReceivedMail
from tests.support.configs import TEST_SECRET_KEY
from tests.support.waiting import eventually_sync

__all__ = [
    "MAIL_CLUSTER",
    "MAIL_CONFIG",
    "MailLedger",
    "WorkerProcesses",
    "mail_users",
    "wait_for_workers",
    "worker_environ",
]

MAIL_CLUSTER = "mail-run"
#: e-mail only, users keyed by fiscal code; retries and leases short, so faults heal within seconds
MAIL_CONFIG: dict[str, Any] = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.test"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "clusters": "groups"},
    "delivery": {
        "maxAttempts": 10,
        "minBackoffSeconds": 0.2,
        "maxBackoffSeconds": 2.0,
        "sendingLeaseSeconds": 5,
        "enqueueLeaseSeconds": 6,
    },
}
_HEARTBEATS = "dramatiq:__heartbeats__"


def worker_environ(
    config_path: Path, mongodb_url: str, database: str, redis_url: str, **extra: str
) -> dict[str, str]:
    """What ``tidings worker`` needs, as production sets it: the secret key that signs unsubscribe links
    included (it refuses to start without one when e-mail is active), migrations applied at start."""
    return {
        "CONFIGURATION_PATH": str(config_path),
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": database,
        "REDIS_URL": redis_url,
        "TIDINGS_SECRET_KEY": TEST_SECRET_KEY,
        "TIDINGS_AUTO_MIGRATE": "1",
        **extra,
    }


def mail_users(
    count: int, *, cluster: str = MAIL_CLUSTER, first: int = 0, size: int = 5000
) -> Iterator[list[dict[str, Any]]]:
    """``count`` users of ``cluster``, numbered from ``first`` (``user<n>@example.test``), in batches."""
    for start in range(first, first + count, size):
        yield [
            {
                "fiscalCode": f"M{i:07d}",
                "mail": f"user{i}@example.test",
                "name": f"User {i}",
                "groups": [cluster],
            }
            for i in range(start, min(start + size, first + count))
        ]


class MailLedger:
    """Every mail an SMTP sink accepted, by recipient, with its Message-ID; safe from the sink's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.message_ids: dict[str, list[str]] = defaultdict(list)

    def __call__(self, mail: ReceivedMail) -> None:
        # the header block is enough; parsing the whole message would slow the sink down
        head = mail.data.split(b"\r\n\r\n", 1)[0]
        message_id = next(
            (
                line.split(b":", 1)[1].strip().decode()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"message-id:")
            ),
            "",
        )
        with self._lock:
            for recipient in mail.rcpt_tos:
                self.counts[recipient] += 1
                self.message_ids[recipient].append(message_id)

    @property
    def arrived(self) -> int:
        """Mails accepted so far (recipients counted once per mail)."""
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


class WorkerProcesses:
    """``tidings worker --processes N --threads M`` as a child process with its own process group."""

    def __init__(
        self, environ: dict[str, str], processes: int, threads: int, *, output: Path | None = None
    ) -> None:
        self.environ = environ
        self.processes = processes
        self.threads = threads
        #: where the command's stdout and stderr go (appended to across restarts), else nowhere
        self.output = output
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The supervisor's pid (``tidings worker`` itself; its children are the worker processes)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> WorkerProcesses:
        if self._process is not None:
            raise RuntimeError("the workers are running already")
        args = [sys.executable, "-m", "host.cli.main", "worker"]
        args += ["--processes", str(self.processes), "--threads", str(self.threads)]
        sink: IO[bytes] | int = subprocess.DEVNULL
        if self.output is not None:
            self._log = sink = self.output.open("ab")
        self._process = subprocess.Popen(
            args,
            env={**os.environ, **self.environ},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def children(self) -> list[int]:
        """The worker processes (the supervisor's children)."""
        if self._process is None:
            return []
        path = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def exited(self) -> int | None:
        """The supervisor's exit code once it has exited (it must not, while a run goes on)."""
        return self._process.poll() if self._process is not None else None

    def kill_one(self) -> int:
        """``kill -9`` one worker process; its supervisor then stops the others and exits (reaped here).

        Returns the killed pid.
        """
        children = self.children()
        if not children:
            raise RuntimeError("the supervisor has no worker process to kill")
        os.kill(children[0], signal.SIGKILL)
        self.kill_all()
        return children[0]

    def kill_all(self) -> None:
        """``kill -9`` every worker process and the supervisor at once."""
        if self._process is None:
            return
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._forget()

    def stop(self) -> None:
        """SIGTERM to the supervisor, which passes it on (a clean shutdown); SIGKILL after 20 s."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._forget()

    def _forget(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> WorkerProcesses:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_workers(
    redis_url: str,
    count: int,
    *,
    since: float,
    timeout: float = 90.0,
    watch: tuple[WorkerProcesses, ...] = (),
) -> None:
    """Wait until ``count`` dramatiq consumers have fetched from Redis since ``since`` (``time.time()``).

    Each worker process's broker writes a heartbeat on every fetch, which starts only after its
    Runtime is built; any of ``watch`` exiting meanwhile fails at once, with its exit code.
    """
    client = redis.Redis.from_url(redis_url)

    def alive() -> int:
        for workers in watch:
            code = workers.exited()
            if code is not None:
                raise AssertionError(f"tidings worker exited with code {code} while starting")
        return int(client.zcount(_HEARTBEATS, int(since * 1000), "+inf"))

    try:
        eventually_sync(
            alive,
            until=lambda seen: seen >= count,
            timeout=timeout,
            interval=0.1,
            what="the worker processes",
        )
    finally:
        client.close()
