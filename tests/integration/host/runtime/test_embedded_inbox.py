"""`tidings run` with no SMTP server and no account anywhere: every channel is captured in the inbox.

Run as a newcomer runs it, in a child process with no provider variable set: the banner says which
channels are captured and how to send them for real, a send ends `sent` with each message in the inbox
(``GET /dev/inbox``). A half-configured provider still stops start-up with its one line, exit code 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from tests.services import free_port
from tests.support.configs import TWILIO_SENDER

_PROVIDER_PREFIXES = ("SMTP_", "TWILIO_", "VAPID_", "FCM_", "KALEYRA_", "GOOGLE_APPLICATION_CREDENTIALS")
CONFIG = {
    "activeChannels": ["email", "sms", "voice", "push"],
    "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
}


def _start(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
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


def _banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    raise AssertionError("tidings run ended before its banner:\n" + "".join(lines))


def _wait(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(180)
def test_tidings_run_captures_every_channel_without_a_provider(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(tmp_path / "data", port)
    try:
        banner = _banner(process)
        assert "email: captured in the inbox (set SMTP_HOST to send for real)" in banner
        assert "sms: captured in the inbox (set TWILIO_ACCOUNT_SID to send for real)" in banner
        assert "push: captured in the inbox (set VAPID_PRIVATE_KEY to send for real)" in banner
        assert f"{url}/console/inbox" in banner
        db_url = banner.split("development database (mongo-java-server) at ")[1].split(",")[0]
        _wait(lambda: _ready(url), "/-/ready")
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
        _wait(lambda: httpx.get(f"{url}/dispatches/{dispatch}").json()["settled"], "the dispatch to settle")
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
    process = _start(tmp_path / "data", free_port(), TWILIO_ACCOUNT_SID="AC" + "1" * 32)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 2, output
    assert "Traceback" not in output
    assert output.strip().splitlines()[-1] == (
        "tidings: invalid configuration at TWILIO_AUTH_TOKEN: required because 'sms' is an active channel"
    )
