"""The pieces the e-mail benchmarks share: Postfix's smtp-sink, worker subprocesses, a user cluster.

Workers are ``dramatiq host.worker_app`` subprocesses (what ``tidings worker`` runs), configured only
through the environment, so they can be killed and restarted like real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CLUSTER", "CONFIG", "SmtpSinkProcess", "Workers", "free_port", "user_batches", "write_config"]

CLUSTER = "bench-mail"
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


def user_batches(count: int, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, count, size):
        yield [
            {
                "fiscalCode": f"M{i:07d}",
                "mail": f"user{i}@example.test",
                "name": f"User {i}",
                "groups": [CLUSTER],
            }
            for i in range(start, min(start + size, count))
        ]


class SmtpSinkProcess:
    """Postfix's ``smtp-sink`` on 127.0.0.1 (Debian package ``postfix``): accepts and discards mail."""

    def __init__(self, backlog: int = 256) -> None:
        self.port = free_port()
        self.backlog = backlog
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SmtpSinkProcess:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        args = [binary, f"127.0.0.1:{self.port}", str(self.backlog)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    """``dramatiq host.worker_app`` subprocesses with the given environment."""

    def __init__(self, environ: dict[str, str], processes: int, threads: int) -> None:
        self.environ = environ
        self.processes = processes
        self.threads = threads
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Workers:
        dramatiq = str(Path(sys.executable).with_name("dramatiq"))
        args = [
            dramatiq,
            "host.worker_app",
            "--processes",
            str(self.processes),
            "--threads",
            str(self.threads),
        ]
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
