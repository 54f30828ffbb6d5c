"""The pieces the benchmarks share: CPU per process group, Postfix's smtp-sink, workers, a user cluster.

Workers are ``tidings worker`` child processes (tests.support.worker_processes, shared with the fault
tests), configured only through the environment, with the start-up checks the command makes: a bench
runs only a configuration ``tidings worker`` accepts (``TIDINGS_SECRET_KEY`` set, so e-mails carry
signed unsubscribe links).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from host.dispatch.schemas import SendRequest
from host.runtime.wiring import Runtime
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from host.storage.migrations import ensure_migrated
from tests.services import free_port
from tests.support.configs import TEST_SECRET_KEY
from tests.support.waiting import eventually_sync
from tests.support.worker_processes import MAIL_CONFIG, WorkerProcesses, mail_users

__all__ = [
    "CLUSTER",
    "CONFIG",
    "ApiProcess",
    "CpuMeter",
    "SmtpSinkProcess",
    "Workers",
    "check_as_tidings_worker",
    "collect_database_heap",
    "cpu_seconds",
    "create_api_key",
    "free_port",
    "held_worker_runtime",
    "in_process_stack",
    "send_to_cluster",
    "user_batches",
    "write_config",
]

CLUSTER = "bench-mail"
_MESSAGES = re.compile(rb"mesg=(\d+)")
#: the fault tests' e-mail configuration, with the default enqueue lease: a throughput run keeps long
#: queues, and a short lease would hand their deliveries out again while they wait (claims make that
#: harmless, but it is work the figures should not include)
CONFIG: dict[str, Any] = {
    **MAIL_CONFIG,
    "delivery": {k: v for k, v in MAIL_CONFIG["delivery"].items() if k != "enqueueLeaseSeconds"},
}
#: ``tidings worker --processes N --threads M`` (the name the benches were written against)
Workers = WorkerProcesses


def write_config(folder: Path) -> Path:
    path = folder / "configuration.json"
    path.write_text(json.dumps(CONFIG))
    return path


def user_batches(
    count: int, size: int = 5000, *, cluster: str = CLUSTER, first: int = 0
) -> Iterator[list[dict[str, Any]]]:
    """``count`` users of ``cluster`` (``user<n>@example.test``), numbered from ``first``, in batches."""
    return mail_users(count, cluster=cluster, first=first, size=size)


@contextlib.contextmanager
def in_process_stack(database: str) -> Iterator[tuple[dict[str, str], dict[str, int | None]]]:
    """The development database and smtp-sink for a worker's code run in the bench's own process: the
    environment ``tidings worker`` would be given (every mail carries its signed List-Unsubscribe link),
    and the two processes' pids for a :class:`CpuMeter`."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        DevDatabase(max_heap="1g") as devdb,
        SmtpSinkProcess() as sink,
    ):
        environ = {
            "CONFIGURATION_PATH": str(write_config(Path(tmp))),
            "MONGODB_URL": devdb.url,
            "MONGODB_DATABASE": database,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "TIDINGS_SECRET_KEY": TEST_SECRET_KEY,
        }
        yield environ, {"database": devdb.pid, "smtp-sink": sink.pid}


async def held_worker_runtime(environ: dict[str, str], users: int) -> tuple[Runtime, list[list[str]]]:
    """A worker's Runtime on this loop with ``users`` users in :data:`CLUSTER`, whose enqueue keeps the
    batches it is handed (returned beside it, to be sent through ``runtime.delivery.deliver``)."""
    settings = load_settings(environ)
    await ensure_migrated(settings, apply=True)
    held: list[list[str]] = []
    runtime = Runtime(settings, lambda _channel, ids, _delay, _lane: held.append(ids), lambda _d: None)
    await runtime.store.ensure_user_indexes()
    for batch in user_batches(users):
        await runtime.store.users.insert_many(batch)
    await runtime.start_worker(None)
    return runtime, held


async def send_to_cluster(runtime: Runtime) -> None:
    """One dispatch to :data:`CLUSTER` (a template with a user field and data), accepted and expanded."""
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


def _stat(path: Path) -> tuple[str, float]:
    """A process's or thread's name and user + system CPU seconds, from its ``stat`` file in /proc."""
    name, _, rest = path.read_text().partition("(")[2].rpartition(")")
    fields = rest.split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU seconds of a live process (and, with ``tree``, its live descendants), from /proc."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _stat(Path(f"/proc/{current}/stat"))[1]
            if tree:
                for task in Path(f"/proc/{current}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def compiler_seconds(pid: int) -> float:
    """CPU seconds of a Java process's JIT compiler threads (``C1 CompilerThre``, ``C2 CompilerThre``)."""
    try:
        threads = [_stat(task / "stat") for task in Path(f"/proc/{pid}/task").iterdir()]
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(seconds for name, seconds in threads if name.startswith(("C1 Compiler", "C2 Compiler")))


class CpuMeter:
    """CPU seconds spent by labelled process groups between ``start`` and ``stop``, read from
    ``/proc/<pid>/stat``: a figure the load of other programs on the machine hardly changes, unlike a rate.

    Each label names a process and its descendants (``{"database": pid, "workers": pid, ...}``); the
    meter adds ``this process`` (the bench itself: its load generator, its threads) and ``other``, this
    process's remaining descendants, so the groups add up to everything the run started. A process that
    exits before ``stop`` takes its CPU with it: keep what is measured alive until then.

    The ``database`` (a JVM) is also read for its JIT compiler's share, printed beside it: compiling
    its own code as it warms up is CPU a MongoDB server would not spend.
    """

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {label: pid for label, pid in pids.items() if pid is not None}
        self._started: dict[str, float] = {}
        self.spent: dict[str, float] = {}
        self._compiler_started = 0.0
        #: CPU seconds the database's JIT compiler took between start and stop (part of ``database``)
        self.compiler = 0.0

    def _sample(self) -> dict[str, float]:
        sample = {label: cpu_seconds(pid) for label, pid in self.pids.items()}
        sample["this process"] = cpu_seconds(os.getpid(), tree=False)
        # this process's other children: descendants not under a labelled tree
        sample["other"] = max(0.0, cpu_seconds(os.getpid()) - sum(sample.values()))
        return sample

    def _compiler(self) -> float:
        pid = self.pids.get("database")
        return 0.0 if pid is None else compiler_seconds(pid)

    def start(self) -> CpuMeter:
        self._started = self._sample()
        self._compiler_started = self._compiler()
        return self

    def stop(self) -> None:
        self.spent = {label: value - self._started[label] for label, value in self._sample().items()}
        self.compiler = self._compiler() - self._compiler_started

    @property
    def compiler_share(self) -> float:
        """The database's JIT compiler's share of its CPU between start and stop."""
        return self.compiler / max(self.spent.get("database", 0.0), 1e-9)

    def add(self, label: str, seconds: float) -> None:
        """CPU of a group measured another way (processes that exited: ``getrusage`` of children)."""
        self.spent[label] = self.spent.get(label, 0.0) + seconds

    def per_message(self, count: int) -> dict[str, float]:
        """µs of CPU per message, by group."""
        return {label: value / count * 1e6 for label, value in self.spent.items()}

    def summary(self, count: int, per: str = "message") -> str:
        """``CPU per message 839 µs: database 354 (its JIT compiler 60), workers 379, ... (8.39 s)``."""
        total = sum(self.spent.values())
        jit = f" (its JIT compiler {self.compiler / count * 1e6:,.0f})" if "database" in self.spent else ""
        parts = ", ".join(
            f"{label} {value:,.0f}{jit if label == 'database' else ''}"
            for label, value in self.per_message(count).items()
            if label != "other" or value >= 0.5
        )
        return f"CPU per {per} {total / count * 1e6:,.0f} µs: {parts} ({total:.2f} s in all)"


def collect_database_heap(pid: int | None) -> None:
    """A full collection of the development database's heap (``jcmd GC.run``) before a timed phase. The
    collections dropped between phases are garbage its young collections promote; whichever phase the
    old generation filled up in paid a full collection (a bare insert at 156,000 docs/s after an
    expansion, 342,000 before it, bench.fanout), and that decided the round."""
    jcmd = shutil.which("jcmd")
    if pid is not None and jcmd is not None:
        subprocess.run([jcmd, str(pid), "GC.run"], check=True, capture_output=True)


#: a warm-up is run again (up to this many times) until the database's JIT compiler takes less than
#: WARM_COMPILER_SHARE of its CPU: measured at 8,000 mails, one warm-up left it at 60% of the
#: database's CPU in the timed run (C2 recompiling BSON and update code for seconds)
WARMUP_ROUNDS = 5
WARM_COMPILER_SHARE = 0.15


def warm_up_rounds(database_pid: int | None, what: str) -> Iterator[int]:
    """The rounds of an untimed warm-up, which the caller runs once per number this yields: up to
    WARMUP_ROUNDS, until the development database's JIT compiler takes less than WARM_COMPILER_SHARE of
    its CPU (a MongoDB server compiles nothing; a development database that has run a while has).
    Each round's time and the compiler's share are printed, ``what`` naming what a round did."""
    for round_ in range(1, WARMUP_ROUNDS + 1):
        meter = CpuMeter({"database": database_pid}).start()
        started = time.perf_counter()
        yield round_
        meter.stop()
        print(
            f"warm-up {round_}: {what} in {time.perf_counter() - started:.2f} s (not counted); the "
            f"database's JIT compiler took {meter.compiler_share:.0%} of its CPU"
        )
        if meter.compiler_share < WARM_COMPILER_SHARE:
            return


class SmtpSinkProcess:
    """Postfix's ``smtp-sink`` on 127.0.0.1 (Debian package ``postfix``): accepts and discards mail.

    ``received`` counts the mail transactions it completed (its ``-c`` counter, read from its output):
    waiting on it costs the database nothing, unlike counting deliveries, which scans. With ``dump``,
    every transaction is also appended to that file (``-D``), so a benchmark can see which mail arrived
    when.
    """

    def __init__(self, backlog: int = 256, dump: Path | None = None) -> None:
        self.port = free_port()
        self.backlog = backlog
        self.dump = dump
        self.received = 0
        self._process: subprocess.Popen[bytes] | None = None

    def _count(self, output: IO[bytes]) -> None:
        # the counter is rewritten in place: "sess=N quit=N mesg=N\r", once a mail or more. Read at most
        # every 5 ms (the pipe holds what comes meanwhile): read as it comes, the counting took 15-20 µs
        # of this process's CPU a mail at 3,000-4,000 mails/s, against 3 µs so
        tail = b""
        while chunk := os.read(output.fileno(), 65536):
            tail = (tail + chunk)[-200:]
            found = _MESSAGES.findall(tail)
            if found:
                self.received = int(found[-1])
            time.sleep(0.005)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> SmtpSinkProcess:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        args = [binary, "-c", f"127.0.0.1:{self.port}", str(self.backlog)]
        if self.dump is not None:
            args[1:1] = ["-D", str(self.dump)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]
        self._process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._process.stdout is not None
        threading.Thread(target=self._count, args=(self._process.stdout,), daemon=True).start()
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("smtp-sink did not start") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


class ApiProcess:
    """``tidings api`` as a child process on a free loopback port, as an operator runs it (start-up checks
    included; API keys on unless the environment turns them off). Ready once ``/-/ready`` answers 200."""

    def __init__(self, environ: dict[str, str], *, output: Path | None = None) -> None:
        self.environ = environ
        self.port = free_port()
        self.output = output
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 120.0) -> ApiProcess:
        args = [sys.executable, "-m", "host.cli.main", "api", "--port", str(self.port)]
        # its output goes to ``output``, else to a scratch file, shown if the command refuses to start
        self._log = self.output.open("ab") if self.output is not None else tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            args, env={**os.environ, **self.environ}, stdout=self._log, stderr=subprocess.STDOUT
        )
        process, log = self._process, self._log

        def ready() -> bool:
            if process.poll() is not None:
                log.seek(0)
                said = log.read()[-2000:].decode(errors="replace").strip()
                raise RuntimeError(f"tidings api exited with code {process.returncode}: {said}")
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(ready, timeout=timeout, interval=0.1, what="tidings api ready")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_as_tidings_worker(environ: dict[str, str]) -> None:
    """Refuse (exit 2, naming the key) an environment ``tidings worker`` would refuse: the command's own
    start-up check, in a child process, for a bench that runs Tidings' parts in-process instead."""
    check = (
        "from host.cli.main import _check_configuration\n"
        "from host.errors import ConfigurationError\n"
        "try:\n    _check_configuration(needs_redis=True, migrate=True)\n"
        "except ConfigurationError as exc:\n    raise SystemExit(f'tidings worker would refuse it: {exc}')\n"
    )
    done = subprocess.run([sys.executable, "-c", check], env={**os.environ, **environ}, check=False)
    if done.returncode:
        raise SystemExit(2)


def create_api_key(mongodb_url: str, database: str, scopes: list[str]) -> str:
    """A new API key with these scopes, written to the database as ``tidings apikey create`` does."""
    import asyncio

    from pymongo import AsyncMongoClient

    from host.access.api_keys import ApiKeys

    async def create() -> str:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
        try:
            made = await ApiKeys(client[database]).create("bench", scopes, created_by="bench")
            return made.key
        finally:
            await client.close()

    return asyncio.run(create())
