"""The embedded development database: mongo-java-server started as a child process on loopback.

No MongoDB server can be installed on the development machines, so development and tests run against
mongo-java-server (see NOTES, "Database"). Its jars are fetched once by Maven into a per-user cache;
``Launcher.java`` beside this file runs against them as a single source file, with no compile step.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from host.errors import TidingsError
from host.settings import load_environment

__all__ = ["SERVER_VERSION", "DevDatabase", "DevDatabaseError", "cache_dir", "ensure_jars"]

SERVER_VERSION = "1.47.0"
"""The mongo-java-server release that ``pom.xml`` pins; it names the cache folder too."""

_HERE = Path(__file__).resolve().parent
_POM = _HERE / "pom.xml"
_LAUNCHER = _HERE / "Launcher.java"
_INSTALL_HINT = (
    "install Java 17+ (Debian: apt-get install default-jre-headless) and Maven (apt-get install maven)"
)
_FETCH_TIMEOUT_S = 600.0
_READY_TIMEOUT_S = 30.0
#: The JVM's options beside the heap's size, measured under the benchmarks (README, Performance): the
#: parallel collector spends ~25% less of the server's CPU a document than G1 on the workers' hot path
#: (two servers in one script, the same workload); everything this server keeps is long-lived, so the
#: heap starts at its full size (no full collection to grow it: one took 1.3 s of CPU in a 100,000-user
#: fan-out) and a document surviving one young collection moves to the old generation at the next, not
#: copied between survivor spaces (a 1,000,000-user fan-out measured the same with promotion at once:
#: 44.9k against 43.8k deliveries/s; each inserted document is still copied once, ~17 s of collector CPU).
_JVM_OPTIONS = ("-XX:+UseParallelGC", "-XX:MaxTenuringThreshold=1", "-Dslf4j.internal.verbosity=ERROR")
_PING_TIMEOUT_MS = 250
_POLL_INTERVAL_S = 0.05
_STOP_TIMEOUT_S = 10.0


class DevDatabaseError(TidingsError):
    """The development database could not be fetched, started or reached."""


def cache_dir() -> Path:
    """Return the per-user cache folder: ``$TIDINGS_CACHE_DIR``, else ``~/.cache/tidings``."""
    return load_environment().cache_path()


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DevDatabaseError(f"the development database needs `{tool}` on PATH: {_INSTALL_HINT}")
    return path


def ensure_jars() -> Path:
    """Return the folder holding the mongo-java-server jars, fetching them with Maven if missing.

    The jars are copied into a temporary sibling folder that is renamed into place only once Maven
    has succeeded, so an interrupted fetch is never mistaken for a finished one.
    """
    target = cache_dir() / f"devdb-{SERVER_VERSION}"
    if target.is_dir():
        return target
    mvn = _require("mvn")
    _require("java")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        command = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(_POM)]
        command += ["dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DevDatabaseError(f"Maven took over {_FETCH_TIMEOUT_S:.0f} s to fetch the jars") from exc
        if result.returncode != 0 or not any(staging.glob("*.jar")):
            output = (result.stdout + result.stderr).strip()
            raise DevDatabaseError(f"Maven could not fetch the development database jars:\n{output}")
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same fetch first; its copy is as good as ours.
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _make_private(data_file: Path) -> None:
    """The data file's folder 0700 and an existing data file 0600 (it holds sessions and password hashes)."""
    folder = data_file.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)
    if data_file.exists() and data_file.stat().st_mode & 0o077:
        data_file.chmod(0o600)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class DevDatabase:
    """A mongo-java-server child process on 127.0.0.1, in memory or kept in an H2 file.

    The child never outlives this process: ``stop()`` runs at interpreter exit, and the launcher
    exits by itself when its stdin pipe closes, which also covers this process being killed.
    """

    def __init__(
        self, port: int | None = None, data_file: Path | None = None, *, max_heap: str = "256m"
    ) -> None:
        self._requested_port = port
        self._max_heap = max_heap  # the memory backend holds ~250k small documents per 256 MB
        self._data_file = data_file.resolve() if data_file is not None else None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def port(self) -> int:
        """The port the server listens on; known once started."""
        if self._port is None:
            raise DevDatabaseError("the development database has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The connection string, such as ``mongodb://127.0.0.1:27017``."""
        return f"mongodb://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The Java process id while running, else ``None``."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Spawn the server and return once it answers a ping (within about 30 s)."""
        if self._process is not None:
            raise DevDatabaseError(f"the development database is already running at {self.url}")
        java = _require("java")
        jars = ensure_jars()
        port = self._requested_port or _free_port()
        heap = self._max_heap
        command = [java, f"-Xms{heap}", f"-Xmx{heap}", *_JVM_OPTIONS, "-cp", f"{jars}/*"]
        command += [str(_LAUNCHER), str(port)]
        if self._data_file is not None:
            _make_private(self._data_file)
            command.append(str(self._data_file))
        # A file, not a pipe, takes the output: nobody drains it while the server runs. It lives as
        # long as the child, so stop() closes it rather than a with-block.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            # umask 077: whatever H2 creates (the data file, its temporary files) is its user's alone
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, umask=0o077
            )
        except OSError as exc:
            self.stop()
            raise DevDatabaseError(f"could not run {java}: {exc}; {_INSTALL_HINT}") from exc
        self._port = port
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            self._raise_if_exited()
            if self._has_bound() and self._answers_ping():
                return
            if time.monotonic() > deadline:
                raise DevDatabaseError(
                    f"the development database did not answer at {self.url} within "
                    f"{_READY_TIMEOUT_S:.0f} s:\n{self._output()}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _has_bound(self) -> bool:
        # A ping alone could reach another server that already holds the port: the child's own
        # "ready" line, printed once it has bound, says the answer will come from it.
        return f"ready 127.0.0.1:{self.port}" in self._output()

    def _answers_ping(self) -> bool:
        client: MongoClient[dict[str, object]] = MongoClient(
            self.url, serverSelectionTimeoutMS=_PING_TIMEOUT_MS, connectTimeoutMS=_PING_TIMEOUT_MS
        )
        try:
            client.admin.command("ping")
        except PyMongoError:
            return False
        finally:
            client.close()
        return True

    def _raise_if_exited(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise DevDatabaseError(
                f"the development database exited with code {code} on start:\n{self._output()}"
            )

    def _output(self) -> str:
        if self._log is None:
            return ""
        # pread leaves the file offset alone: the child shares it and keeps appending there.
        descriptor = self._log.fileno()
        data = os.pread(descriptor, os.fstat(descriptor).st_size, 0)
        return data.decode(errors="replace").strip()

    def stop(self) -> None:
        """Stop the server (SIGTERM, so H2 data is flushed; SIGKILL after 10 s). Safe to repeat."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdin is not None:
                process.stdin.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
