"""`tidings run`: the embedded mode answers on 127.0.0.1:8000 and delivers e-mail with no other service.

With no SMTP server and no account anywhere, every channel is captured in the inbox: run as a newcomer
runs it, with no provider variable set, the banner says which channels are captured and how to send
them for real, and a send ends `sent` with each message in the inbox (``GET /dev/inbox``). A
half-configured provider still stops start-up with its one line, exit code 2.
"""

from __future__ import annotations

import json
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
from tests.support.configs import TWILIO_SENDER
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


_PROVIDER_PREFIXES = ("SMTP_", "TWILIO_", "VAPID_", "FCM_", "KALEYRA_", "GOOGLE_APPLICATION_CREDENTIALS")
CONFIG = {
    "activeChannels": ["email", "sms", "voice", "push"],
    "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
}


def _start_inbox(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
    config = data / "configuration.json"
    data.mkdir(exist_ok=True)
    config.write_text(json.dumps(CONFIG))
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_PROVIDER_PREFIXES) and k not in ("MONGODB_URL", "REDIS_URL")
    }
    environ |= {"TIDINGS_DATA_DIR": str(data), "CONFIGURATION_PATH": str(config), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "host.cli.main", "run", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _inbox_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    raise AssertionError("tidings run ended before its banner:\n" + "".join(lines))


@pytest.mark.timeout(180)
def test_tidings_run_captures_every_channel_without_a_provider(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start_inbox(tmp_path / "data", port)
    try:
        banner = _inbox_banner(process)
        assert "email: captured in the inbox (set SMTP_HOST to send for real)" in banner
        assert "sms: captured in the inbox (set TWILIO_ACCOUNT_SID to send for real)" in banner
        assert "push: captured in the inbox (set VAPID_PRIVATE_KEY to send for real)" in banner
        assert f"{url}/console/inbox" in banner
        db_url = banner.split("development database (mongo-java-server) at ")[1].split(",")[0]
        eventually_sync(lambda: _ready(url), timeout=60, what="/-/ready")
        with MongoClient(db_url) as client:
            client["tidings"]["users"].insert_one(
                {"_id": "u1", "emailAddress": "u1@example.org", "phoneNumber": "+393330000007"}
            )
        answer = httpx.post(
            url + "/send",
            json={
                "channels": ["email", "sms"],
                "recipients": ["u1"],
                "messageTitle": "Hi",
                "messageContent": "Yo",
            },
        )
        assert answer.status_code == 200, answer.text
        dispatch = answer.json()["dispatchId"]
        eventually_sync(
            lambda: httpx.get(f"{url}/dispatches/{dispatch}").json()["settled"], timeout=30, what="settled"
        )
        deliveries = httpx.get(f"{url}/dispatches/{dispatch}/deliveries").json()["items"]
        assert {(d["channel"], d["status"], d["provider"]) for d in deliveries} == {
            ("email", "sent", "inbox"),
            ("sms", "sent", "inbox"),
        }
        inbox = httpx.get(f"{url}/dev/inbox").json()["items"]
        assert sorted((c["channel"], c["to"]) for c in inbox) == [
            ("email", "u1@example.org"),
            ("sms", "+393330000007"),
        ]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(120)
def test_a_half_configured_provider_still_stops_tidings_run_in_one_line(tmp_path: Path) -> None:
    process = _start_inbox(tmp_path / "data", free_port(), TWILIO_ACCOUNT_SID="AC" + "1" * 32)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 2, output
    assert "Traceback" not in output
    assert output.strip().splitlines()[-1] == (
        "tidings: invalid configuration at TWILIO_AUTH_TOKEN: required because 'sms' is an active channel"
    )
