"""Real services for tests, started as child processes on free loopback ports: Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import redis

from tests.support.waiting import eventually_sync

__all__ = ["RedisServer", "free_port"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` on 127.0.0.1, without persistence, awaited by PING."""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        args = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        if self.workdir is not None:
            args += ["--dir", str(self.workdir)]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        process = self._process

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                return False

        try:
            eventually_sync(answers, timeout=15, interval=0.02, what=f"redis-server on port {self.port}")
        finally:
            client.close()
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """``kill -9``: no shutdown, nothing saved (it keeps nothing anyway); ``start()`` again is empty."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
