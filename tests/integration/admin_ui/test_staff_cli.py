"""``tidings staff create``: an account of the given role in the database at MONGODB_URL."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner
from pymongo import MongoClient

from host.cli.main import cli
from host.storage.devdb import DevDatabase
from tests.support.console import PASSWORD


def test_staff_cli_creates_an_editor(devdb: DevDatabase, unique: Callable[[str], str]) -> None:
    env = {"MONGODB_URL": devdb.url, "MONGODB_DATABASE": unique("staff").replace("-", "_")}
    args = ["staff", "create", "ed@example.test", "--role", "editor", "--password", PASSWORD]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "ed@example.test (editor) created" in result.output
    with MongoClient(devdb.url) as client:
        doc = client[env["MONGODB_DATABASE"]]["staff"].find_one({"email": "ed@example.test"})
        client.drop_database(env["MONGODB_DATABASE"])
    assert doc is not None and doc["role"] == "editor" and doc["disabled_at"] is None
