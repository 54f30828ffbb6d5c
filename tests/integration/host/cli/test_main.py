"""What ``tidings api``, ``tidings worker`` and ``tidings run`` do at start-up, run as an operator runs them.

Each command runs in a child process and its output is read.

- ``TIDINGS_LOG_LEVEL=DEBUG`` holds after start-up: after a request served or a background pass made, a
  DEBUG line of Tidings' own appears, and every line is in Tidings' text format, not the one Litestar's,
  uvicorn's or dramatiq's own logging setup would install.
- ``tidings api`` and ``tidings worker`` never capture: a channel with no provider stops start-up in one
  line, with services that are never reached (the check comes first); what is checked is the exit code,
  that the line names the variable to set and the channel, and that no traceback is printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.cli_runs import TidingsProcess
from tests.support.configs import TWILIO_SENDER

#: host.runtime.logs.TEXT_FORMAT: "2026-12-01 08:00:00,123 DEBUG host.x: message"
OURS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")
SEND = {"channels": ["email"], "recipients": ["nobody"], "messageTitle": "t", "messageContent": "c"}


def debug_of(logger: str, text: str = "") -> Any:
    return lambda line: bool(OURS.match(line)) and f" DEBUG {logger}: " in line and text in line


@pytest.fixture
def environment(
    tmp_path: Path, devdb: DevDatabase, redis_server: RedisServer, smtp_sink: SmtpSink
) -> Iterator[dict[str, str]]:
    config = tmp_path / "configuration.json"
    config.write_text(json.dumps({"activeChannels": ["email"], "sender": {"email": "noreply@tidings.test"}}))
    yield {
        "CONFIGURATION_PATH": str(config),
        "MONGODB_URL": devdb.url,
        "MONGODB_DATABASE": f"tidings_cli_{time.monotonic_ns():x}",
        "REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/4",
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": str(smtp_sink.port),
        "TIDINGS_SECRET_KEY": "cli-test-secret-key-0123",
        "TIDINGS_API_AUTH": "off",
        "TIDINGS_AUTO_MIGRATE": "1",
        "TIDINGS_LOG_LEVEL": "DEBUG",
        "TIDINGS_LOG_FORMAT": "text",
    }


def ready(base: str, process: TidingsProcess) -> None:
    process.wait_for(
        lambda line: "Uvicorn running" in line or "Application startup complete" in line, "start-up"
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/-/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, process.tail()
        time.sleep(0.1)


def assert_our_format(lines: list[str]) -> None:
    """Every record is in our format (a traceback's lines are indented under theirs).

    Read while the process runs: at Ctrl-C, Python itself prints a KeyboardInterrupt in processes that
    get the signal, which is no log record.
    """
    foreign = [line for line in lines if line and not line.startswith(" ") and not OURS.match(line)]
    assert foreign == [], "\n".join(foreign[:10])


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
def test_tidings_api_logs_at_debug_after_start_up(
    tmp_path: Path, environment: dict[str, str], workers: int
) -> None:
    port = free_port()
    args = ["api", "--port", str(port), "--workers", str(workers)]
    with TidingsProcess(args, environment, tmp_path / "api.log") as api:
        ready(f"http://127.0.0.1:{port}", api)
        answer = httpx.post(f"http://127.0.0.1:{port}/send", json=SEND, timeout=30)
        assert answer.status_code == 200, answer.text
        api.wait_for(
            debug_of("host.dispatch.accept", answer.json()["dispatchId"]), "a DEBUG line after start-up"
        )
        assert_our_format(api.lines())


@pytest.mark.timeout(180)
def test_tidings_worker_logs_at_debug_after_start_up(tmp_path: Path, environment: dict[str, str]) -> None:
    args = ["worker", "--processes", "1", "--threads", "2"]
    with TidingsProcess(args, environment, tmp_path / "worker.log") as worker:
        worker.wait_for(
            debug_of("host.runtime.background", "recovery sweep"), "a DEBUG line of a worker's sweep"
        )
        assert_our_format(worker.lines())


@pytest.mark.timeout(240)
def test_tidings_run_logs_at_debug_after_start_up(tmp_path: Path, environment: dict[str, str]) -> None:
    port = free_port()
    embedded = {
        key: value for key, value in environment.items() if key not in ("CONFIGURATION_PATH", "MONGODB_URL")
    }
    embedded |= {"TIDINGS_DATA_DIR": str(tmp_path / "data"), "REDIS_URL": ""}
    with TidingsProcess(["run", "--port", str(port)], embedded, tmp_path / "run.log") as run:
        run.wait_for(lambda line: line.startswith("Press Ctrl-C"), "the banner", timeout=150)
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/send", json=SEND, timeout=30)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, run.tail()
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        run.wait_for(
            debug_of("host.dispatch.accept", answer.json()["dispatchId"]), "a DEBUG line after start-up"
        )
        run.wait_for(debug_of("host.runtime.background", "recovery sweep"), "a DEBUG line of the sweep")
        lines = run.lines()
    # what `tidings run` prints itself (click.echo): the banner, the first staff account
    printed = ("Tidings ", "Press Ctrl-C", "First start: ")
    foreign = [
        line for line in lines
        if line and not line.startswith((" ", *printed)) and not OURS.match(line)
    ]  # fmt: skip
    assert foreign == [], "\n".join(foreign[:10])


#: channel → (the active channels, the variables set, the variable the line must name)
CASES = {
    "email": (["email"], {}, "SMTP_HOST"),
    "sms": (["email", "sms"], {"SMTP_HOST": "127.0.0.1"}, "TWILIO_ACCOUNT_SID"),
    "voice": (["voice"], {}, "TWILIO_ACCOUNT_SID"),
    "push": (["email", "push"], {"SMTP_HOST": "127.0.0.1"}, "VAPID_PRIVATE_KEY"),
}
#: variables of the test process that would configure a provider
_PROVIDER_PREFIXES = ("SMTP_", "TWILIO_", "VAPID_", "FCM_", "KALEYRA_", "GOOGLE_APPLICATION_CREDENTIALS")


def _run(
    command: str, folder: Path, channels: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    config = folder / "configuration.json"
    config.write_text(
        json.dumps(
            {
                "activeChannels": channels,
                "sender": {"email": "noreply@tidings.test", "sms": TWILIO_SENDER, "voice": TWILIO_SENDER},
            }
        )
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(_PROVIDER_PREFIXES)}
    environ |= {
        "CONFIGURATION_PATH": str(config),
        "MONGODB_URL": "mongodb://127.0.0.1:1",
        "REDIS_URL": "redis://127.0.0.1:1",
        "TIDINGS_SECRET_KEY": "a-secret-key-of-enough-length",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "host.cli.main", command],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["api", "worker"])
@pytest.mark.parametrize("channel", sorted(CASES))
def test_a_channel_without_a_provider_stops_start_up_naming_the_variable(
    tmp_path: Path, command: str, channel: str
) -> None:
    channels, env, variable = CASES[channel]
    done = _run(command, tmp_path, channels, env)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"tidings: invalid configuration at {variable}: ")
    assert f"{channel!r} is an active channel" in line


def test_with_every_provider_configured_the_check_passes(tmp_path: Path) -> None:
    # the same command goes past the channels and stops at the unreachable database instead
    done = _run(
        "worker",
        tmp_path,
        ["email", "sms"],
        {"SMTP_HOST": "127.0.0.1", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "token"},
    )
    assert done.returncode != 0
    assert "invalid configuration" not in done.stderr
