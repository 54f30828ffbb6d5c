"""Running the ``tidings`` command in a child process, as an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TidingsProcess", "worker_with_config"]


def worker_with_config(folder: Path, config: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
    """``tidings worker`` with this configuration file and unreachable services, run to its exit.

    For start-up checks: a valid configuration would go on to wait for the database; these tests give
    one that must be refused first.
    """
    path = folder / "configuration.json"
    path.write_text(json.dumps(config))
    environ = {
        **os.environ,
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": "mongodb://127.0.0.1:1",
        "REDIS_URL": "redis://127.0.0.1:1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "host.cli.main", "worker"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TidingsProcess:
    """``tidings <args>`` as a child process, its output (stdout and stderr) written to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "host.cli.main", *args],
            env={**os.environ, **env},
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with every child it started
        )

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def wait_for(self, found: Callable[[str], bool], what: str, timeout: float = 90.0) -> str:
        """The first output line ``found`` accepts, waiting for it (the process must stay up)."""
        deadline = time.monotonic() + timeout
        while True:
            line = next((line for line in self.lines() if found(line)), None)
            if line is not None:
                return line
            if self.process.poll() is not None:
                raise AssertionError(
                    f"tidings exited ({self.process.returncode}) before {what}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} in {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self, count: int = 40) -> str:
        return "\n".join(self.lines()[-count:])

    def stop(self) -> None:
        """Ctrl-C (SIGINT) to the process group, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._file.close()

    def __enter__(self) -> TidingsProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
