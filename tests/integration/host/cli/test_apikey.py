"""``tidings apikey create|list|revoke`` against the development database: shown once, stored as a hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from pymongo import MongoClient

from host.access.api_keys import API_KEYS_COLLECTION
from host.cli.main import cli
from host.storage.devdb import DevDatabase


def test_cli_creates_lists_and_revokes(
    tmp_path: Path, devdb: DevDatabase, unique: Callable[[str], str]
) -> None:
    env = {"MONGODB_URL": devdb.url, "MONGODB_DATABASE": unique("apikey").replace("-", "_")}
    runner = CliRunner()
    created = runner.invoke(cli, ["apikey", "create", "ci", "--scope", "send", "--scope", "read"], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert re.fullmatch(r"tdk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key), created.stdout
    assert "shown only this once" in created.stderr
    prefix = key[:12]
    listed = runner.invoke(cli, ["apikey", "list"], env=env)
    assert listed.exit_code == 0 and prefix in listed.output and key not in listed.output
    assert "[send,read]" in listed.output and "active" in listed.output
    revoked = runner.invoke(cli, ["apikey", "revoke", prefix], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(cli, ["apikey", "list"], env=env).output
    unknown = runner.invoke(cli, ["apikey", "revoke", "tdk_ffffffff"], env=env)
    assert unknown.exit_code == 1 and "no API key" in unknown.output
    no_scope = runner.invoke(cli, ["apikey", "create", "x", "--scope", "admin"], env=env)
    assert no_scope.exit_code == 2
    with MongoClient(devdb.url) as client:
        doc = client[env["MONGODB_DATABASE"]][API_KEYS_COLLECTION].find_one({"prefix": prefix})
        client.drop_database(env["MONGODB_DATABASE"])
    assert doc is not None and doc["created_by"].startswith("cli:") and doc["revoked_at"] is not None
    assert doc["key_hash"] == hashlib.sha256(key.encode()).hexdigest() and key not in repr(doc)
