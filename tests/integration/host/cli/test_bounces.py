"""``tidings bounces``: the bounce listener as an operator runs it, in a child process, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiosmtplib
from pymongo import AsyncMongoClient

from host.access.bounce_addresses import BounceAddresses
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.fakes.dsn import delivery_status_notification
from tests.fakes.smtp import free_port
from tests.support.configs import BASE_CONFIG, TEST_SECRET_KEY

DATABASE = "tidings_bounces_cli"


def _environ(folder: Path, devdb: DevDatabase, **env: str) -> dict[str, str]:
    path = folder / "configuration.json"
    path.write_text(json.dumps({**BASE_CONFIG, "sender": {"email": "noreply@cli.tidings.test"}}))
    return {
        **os.environ,
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": devdb.url,
        "MONGODB_DATABASE": DATABASE,
        "TIDINGS_SECRET_KEY": TEST_SECRET_KEY,
        **env,
    }


async def test_tidings_bounces_records_a_dsn_and_stops_on_sigterm(tmp_path: Path, devdb: DevDatabase) -> None:
    port = free_port()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
    db = mongo[DATABASE]
    delivery_id = "6560f00dcafe0123456789ab:email:cli-user"
    await db["deliveries"].insert_one(
        {
            "_id": delivery_id,
            "dispatch_id": "6560f00dcafe0123456789ab",
            "channel": "email",
            "user_id": "cli-user",
            "address": "cli-user@example.org",
            "status": "sent",
            "attempts": 1,
            "provider_id": "<cli@x>",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "host.cli.main", "bounces", "--port", str(port)],
        env=_environ(tmp_path, devdb),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]  # the listener's log line, then the banner
        assert f"tidings bounces: listening on 127.0.0.1:{port} for mail to @cli.tidings.test" in lines[-1], (
            lines
        )
        verp = BounceAddresses(TEST_SECRET_KEY, "cli.tidings.test").envelope_sender(delivery_id)
        dsn = delivery_status_notification(
            b"To: cli-user@example.org\r\n\r\nHi\r\n",
            mail_from=verp,
            recipient="cli-user@example.org",
            status="5.1.1",
            diagnostic="550 5.1.1 user unknown",
        )
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as client:
            await client.mail("")
            await client.rcpt(verp)
            assert (await client.data(dsn)).code == 250
        found = await db["deliveries"].find_one({"_id": delivery_id})
        assert found is not None and found["status"] == "bounced"
        assert await db["suppressions"].find_one({"_id": "cli-user@example.org"}) is not None
        [mail] = await db["bounce_mail"].find().to_list(None)
        assert (mail["state"], mail.get("raw")) == ("recorded", None)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        await mongo.drop_database(DATABASE)
        await mongo.close()


def test_tidings_bounces_without_a_secret_key_names_it_and_exits_2(
    tmp_path: Path, devdb: DevDatabase
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "host.cli.main", "bounces", "--port", str(free_port())],
        env={**_environ(tmp_path, devdb), "TIDINGS_SECRET_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tidings: invalid configuration at TIDINGS_SECRET_KEY: must be set (at least 16 characters): "
        "it signs the VERP tokens of e-mails"
    ]
