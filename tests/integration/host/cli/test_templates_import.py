"""``tidings templates import-mia``: Mia's templates into Tidings' store, ids kept, again and again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bson import ObjectId

from tests.support.configs import STACK_CONFIG
from tests.support.stacks import Stack


def import_mia(stack: Stack, folder: Path, collection: str) -> subprocess.CompletedProcess[str]:
    """The command, run as an operator would, against the session stack's database."""
    config = folder / "configuration.json"
    config.write_text(json.dumps(STACK_CONFIG))
    environ = {
        **os.environ,
        "CONFIGURATION_PATH": str(config),
        "MONGODB_URL": stack.settings.env.mongodb_url or "",
        "MONGODB_DATABASE": stack.settings.env.mongodb_database,
    }
    return subprocess.run(
        [sys.executable, "-m", "host.cli.main", "templates", "import-mia", "--collection", collection],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lines_of(done: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    """Template id → its outcome line and its problem lines."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in done.stdout.splitlines():
        if line.startswith("    "):
            found[current].append(line.strip())
        elif "  " in line:
            current = line.split()[0]
            found[current] = [line.split()[1]]
    return found


async def test_import_keeps_ids_reports_problems_and_changes_nothing_the_second_time(
    stack: Stack, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    collection = unique("message_templates")
    good, odd, trashed, clash = ObjectId(), ObjectId(), ObjectId(), ObjectId()
    taken = unique("taken-name")
    await stack.db["templates"].insert_one({"name": taken, "sms_message": "mine", "version": 1})
    docs: list[dict[str, Any]] = [
        {
            "_id": good,
            "name": unique("welcome"),
            "emailTitle": "Benvenuto {{user.name}}",
            "emailHtmlMessage": "<p>{{#if data.vip}}Caro {{/if}}{{user.name}}</p>",
            "smsMessage": "Ciao {{user.name}}",
            "pushData": '{"kind": "welcome"}',
            "__STATE__": "PUBLIC",
            "creatorId": "c1",
        },
        {"_id": odd, "smsMessage": "{{#each}}", "pushData": "{broken", "__STATE__": "PUBLIC"},
        {"_id": trashed, "name": unique("old"), "smsMessage": "x", "__STATE__": "TRASH"},
        {"_id": clash, "name": taken, "smsMessage": "theirs", "__STATE__": "PUBLIC"},
    ]
    await stack.db[collection].insert_many(docs)

    first = import_mia(stack, tmp_path, collection)
    assert first.returncode == 0, first.stderr
    report = lines_of(first)
    assert report[str(good)] == ["imported"]
    assert report[str(odd)][0] == "imported"
    assert "name: missing: the template is named by its id" in report[str(odd)]
    assert any(p.startswith("smsMessage, line 1:") for p in report[str(odd)])
    assert any(p.startswith("pushData: not valid JSON") for p in report[str(odd)])
    assert report[str(trashed)] == ["skipped", "not PUBLIC (__STATE__ is 'TRASH')"]
    assert report[str(clash)][0] == "skipped" and f"{taken!r} is already the name" in report[str(clash)][1]
    assert first.stdout.strip().splitlines()[-1] == "2 imported, 0 updated, 0 unchanged, 2 skipped"

    stored = await stack.db["templates"].find_one({"_id": good})
    assert stored is not None  # the same ObjectId: a stored templateId finds it
    assert (stored["email_title"], stored["sms_message"], stored["syntax"], stored["version"]) == (
        "Benvenuto {{user.name}}",
        "Ciao {{user.name}}",
        "handlebars",
        1,
    )
    assert stored["push_data"] == '{"kind": "welcome"}' and stored["updated_by"] == "import-mia"

    again = import_mia(stack, tmp_path, collection)
    assert again.stdout.strip().splitlines()[-1] == "0 imported, 0 updated, 2 unchanged, 2 skipped"
    assert (await stack.db["templates"].find_one({"_id": good}))["version"] == 1

    await stack.db[collection].update_one(
        {"_id": good}, {"$set": {"smsMessage": "Ciao di nuovo {{user.name}}"}}
    )
    changed = import_mia(stack, tmp_path, collection)
    assert lines_of(changed)[str(good)] == ["updated"]
    versions = (await stack.client.get(f"/templates/{good}/versions")).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]

    uid = unique("imported-user")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "name": "Nino", "groups": []})
    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "templateId": str(good), "data": {"vip": True}}
    )
    assert result["failures"] == []
    await stack.wait_settled(result["dispatchId"])
    [mail] = stack.mails_to(f"{uid}@example.org")
    assert mail.message["Subject"] == "Benvenuto Nino"
    assert "<p>Caro Nino</p>" in mail.message.get_body(("html",)).get_content()


def test_without_a_collection_the_command_says_what_to_pass(stack: Stack, tmp_path: Path) -> None:
    config = tmp_path / "configuration.json"
    config.write_text(json.dumps(STACK_CONFIG))
    done = subprocess.run(
        [sys.executable, "-m", "host.cli.main", "templates", "import-mia"],
        env={**os.environ, "CONFIGURATION_PATH": str(config), "MONGODB_URL": "mongodb://127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--collection message_templates" in done.stderr
