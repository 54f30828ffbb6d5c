"""`tidings api` and `tidings worker` never capture: a channel with no provider stops start-up in one line.

Each command is run as an operator runs it, in a child process, with services that are never reached
(the check comes first); what is checked is the exit code, that the one line names the variable to set
and the channel, and that no traceback is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.configs import TWILIO_SENDER

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
