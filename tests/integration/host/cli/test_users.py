"""``tidings users import``: CSV and NDJSON files streamed into the users collection of MONGODB_URL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pymongo import MongoClient

from host.cli.main import cli
from host.storage.devdb import DevDatabase
from tests.support.configs import BASE_CONFIG


@pytest.fixture
def env(tmp_path: Path, devdb: DevDatabase, unique: Callable[[str], str]) -> dict[str, str]:
    config = tmp_path / "configuration.json"
    config.write_text(json.dumps(BASE_CONFIG))
    return {
        "MONGODB_URL": devdb.url,
        "MONGODB_DATABASE": unique("cli").replace("-", "_"),
        "CONFIGURATION_PATH": str(config),
    }


def users_in(devdb: DevDatabase, env: dict[str, str]) -> dict[str, dict[str, object]]:
    with MongoClient(devdb.url) as client:
        return {
            user["fiscalCode"]: {k: v for k, v in user.items() if k != "_id"}
            for user in client[env["MONGODB_DATABASE"]]["users"].find()
        }


def test_csv_import_splits_clusters_and_leaves_empty_cells_out(
    tmp_path: Path, devdb: DevDatabase, env: dict[str, str]
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "fiscalCode,mail,groups,name,contacts.phone\n"
        "A1,a1@x.org,red;blue,Ada,+391\n"
        'B2,,green,"Bob, Jr.",\n'
        ",nobody@x.org,red,No id,\n"
    )
    result = CliRunner().invoke(cli, ["users", "import", str(path)], env=env)
    assert result.exit_code == 1, result.output
    assert "upserted 2, modified 0, unchanged 0, failed 1" in result.output
    assert "line 4: fiscalCode: missing" in result.output
    assert users_in(devdb, env) == {
        "A1": {
            "fiscalCode": "A1",
            "mail": "a1@x.org",
            "groups": ["red", "blue"],
            "name": "Ada",
            "contacts": {"phone": "+391"},
        },
        "B2": {"fiscalCode": "B2", "groups": ["green"], "name": "Bob, Jr."},
    }


def test_ndjson_import_in_batches_then_again_replaces(
    tmp_path: Path, devdb: DevDatabase, env: dict[str, str]
) -> None:
    path = tmp_path / "people.data"
    path.write_text("".join(json.dumps({"fiscalCode": f"U{n}", "n": n}) + "\n" for n in range(2500)))
    args = ["users", "import", str(path), "--format", "ndjson", "--batch-size", "300"]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert "upserted 2500, modified 0, unchanged 0, failed 0" in first.output
    second = CliRunner().invoke(cli, args, env=env)
    assert "upserted 0, modified 0, unchanged 2500, failed 0" in second.output
    assert len(users_in(devdb, env)) == 2500


def test_json_array_by_extension_and_unknown_extension(
    tmp_path: Path, devdb: DevDatabase, env: dict[str, str]
) -> None:
    path = tmp_path / "people.json"
    path.write_text(json.dumps([{"fiscalCode": "J1"}, {"fiscalCode": "J2", "groups": ["g"]}]))
    result = CliRunner().invoke(cli, ["users", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert set(users_in(devdb, env)) == {"J1", "J2"}
    odd = tmp_path / "people.txt"
    odd.write_text("")
    refused = CliRunner().invoke(cli, ["users", "import", str(odd)], env=env)
    assert refused.exit_code == 2
    assert "--format" in refused.output
