"""`tidings run`: the embedded mode answers on 127.0.0.1:8000 and delivers e-mail with no other service."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from tests.fakes.smtp import SmtpSink
from tests.services import free_port
from tests.support.waiting import eventually_sync


def _port() -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8000))
        except OSError:
            return free_port()  # 8000 is taken on this machine: the default is still what we start with
    return 8000


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def _start(port: int, data: Path, smtp_port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CONFIGURATION_PATH", "MONGODB_URL", "REDIS_URL")}
    env |= {"TIDINGS_DATA_DIR": str(data), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}
    args = [sys.executable, "-m", "host.cli.main", "run"] + ([] if port == 8000 else ["--port", str(port)])
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_up(url: str, process: subprocess.Popen[str]) -> None:
    def ready() -> bool:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            return httpx.get(url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(ready, timeout=60, interval=0.1, what="tidings run to become ready")


def _stop(process: subprocess.Popen[str]) -> None:
    children = _children(process.pid)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    eventually_sync(
        lambda: [pid for pid in children if _alive(pid)],
        until=lambda alive: not alive,
        timeout=10,
        what="every child process to end after Ctrl-C (one outlived it)",
    )


@pytest.mark.timeout(180)
def test_tidings_run_sends_an_email_and_leaves_nothing_behind(tmp_path: Path, sink: SmtpSink) -> None:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    process = _start(port, tmp_path, sink.port)
    try:
        _wait_up(url, process)
        assert "Tidings" in httpx.get(url + "/").text
        banner = "".join(_read_banner(process))
        assert "for trying Tidings out and for tests only; production uses MongoDB" in banner
        db_url = banner.split("development database (mongo-java-server) at ")[1].split(",")[0]
        with MongoClient(db_url) as client:
            client["tidings"]["users"].insert_one({"_id": "u1", "emailAddress": "u1@example.org"})
        answer = httpx.post(
            url + "/send",
            json={
                "channels": ["email"],
                "recipients": ["u1"],
                "messageTitle": "Hi",
                "messageContent": "from tidings run",
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["failures"] == []
        eventually_sync(lambda: sink.received, timeout=30, what="the e-mail at the SMTP sink")
        [mail] = sink.received
        assert mail.rcpt_tos == ["u1@example.org"]
        assert "from tidings run" in mail.message.get_content()
    finally:
        _stop(process)

    # the development database keeps its data in an H2 file: a second run still knows the dispatch
    process = _start(port, tmp_path, sink.port)
    try:
        _wait_up(url, process)
        assert "1 dispatches" in httpx.get(url + "/").text
    finally:
        _stop(process)


def _read_banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines = []
    while True:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("Press Ctrl-C") or not line:
            return lines
