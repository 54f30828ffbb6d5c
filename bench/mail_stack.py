"""The pieces the e-mail benchmarks share: Postfix's smtp-sink, worker subprocesses, a user cluster.

Workers are ``dramatiq host.runtime.worker_app`` subprocesses (what ``tidings worker`` runs), configured only
through the environment, so they can be killed and restarted like real ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CLUSTER",
    "CONFIG",
    "CpuMeter",
    "SmtpSinkProcess",
    "Workers",
    "free_port",
    "user_batches",
    "write_config",
]

CLUSTER = "bench-mail"
_MESSAGES = re.compile(rb"mesg=(\d+)")
CONFIG: dict[str, Any] = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.test"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "clusters": "groups"},
    "delivery": {
        "maxAttempts": 10,
        "minBackoffSeconds": 0.2,
        "maxBackoffSeconds": 2.0,
        "sendingLeaseSeconds": 5,
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path) -> Path:
    path = folder / "configuration.json"
    path.write_text(json.dumps(CONFIG))
    return path


def user_batches(
    count: int, size: int = 5000, *, cluster: str = CLUSTER, first: int = 0
) -> Iterator[list[dict[str, Any]]]:
    """``count`` users of ``cluster``, numbered from ``first``, in insert batches of ``size``."""
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


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU seconds of a live process (and, with ``tree``, its live descendants), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            if tree:
                for task in Path(f"/proc/{current}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class CpuMeter:
    """CPU seconds spent by labelled process trees between ``start`` and ``stop``: a figure the load of
    other programs on the machine does not change, unlike a rate."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {label: pid for label, pid in pids.items() if pid is not None}
        self._started: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        sample = {label: cpu_seconds(pid) for label, pid in self.pids.items()}
        sample["this process"] = cpu_seconds(os.getpid(), tree=False)
        # the rest of this process's children (Redis): descendants not under a labelled tree
        sample["other"] = cpu_seconds(os.getpid()) - sum(sample.values())
        return sample

    def start(self) -> None:
        self._started = self._sample()

    def stop(self) -> None:
        self.spent = {label: value - self._started[label] for label, value in self._sample().items()}

    def summary(self, count: int) -> str:
        total = sum(self.spent.values())
        parts = ", ".join(f"{label} {value:.2f}" for label, value in self.spent.items())
        return f"CPU {total:.2f} s = {total / count * 1e6:,.0f} µs per message ({parts})"


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
        # the counter is rewritten in place: "sess=N quit=N mesg=N\r"
        tail = b""
        while chunk := os.read(output.fileno(), 65536):
            tail = (tail + chunk)[-200:]
            found = _MESSAGES.findall(tail)
            if found:
                self.received = int(found[-1])

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


class Workers:
    """``dramatiq host.runtime.worker_app`` subprocesses with the given environment (or, with
    ``cli=True``, ``tidings worker``, which checks the configuration and migrations first)."""

    def __init__(self, environ: dict[str, str], processes: int, threads: int, *, cli: bool = False) -> None:
        self.environ = environ
        self.processes = processes
        self.threads = threads
        self.cli = cli
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The supervisor's pid (its children are the worker processes)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> Workers:
        if self.cli:
            args = [str(Path(sys.executable).with_name("tidings")), "worker"]
        else:
            args = [str(Path(sys.executable).with_name("dramatiq")), "host.runtime.worker_app"]
        args += ["--processes", str(self.processes), "--threads", str(self.threads)]
        self._process = subprocess.Popen(
            args,
            env={**os.environ, **self.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def children(self) -> list[int]:
        """The worker processes (children of dramatiq's supervisor)."""
        assert self._process is not None
        path = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill_all(self) -> None:
        """``kill -9`` the supervisor and every worker process at once."""
        if self._process is None:
            return
        for pid in self.children():
            os.kill(pid, signal.SIGKILL)
        self._process.kill()
        self._process.wait()
        self._process = None

    def stop(self) -> None:
        if self._process is None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None
