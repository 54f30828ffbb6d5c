"""Migrations on the development database: the template ``syntax`` and ``version`` steps both ways, and the
start-up check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import Settings
from host.storage.devdb import DevDatabase
from host.storage.migrations import (
    MIGRATIONS_LOG,
    PendingMigrations,
    apply_migrations,
    ensure_migrated,
    migration_names,
    pending_migrations,
)
from host.templates.rendering import Renderer
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import make_settings

OLD_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "welcome",
        "email_title": "Welcome {{ user.name }}",
        "email_message": "Hello {{ user.name }}, see you on {{ data.day }}{% if data.vip %} (VIP){% endif %}",
        "email_attachments": [{"file": "rules.pdf"}],
    },
    {"name": "reminder", "sms_message": "{{ data.day }}: {{ user.name | upper }}"},
]
STEP = "20250601000000_template_version.py"
USER = {"name": "Ada"}
DATA = {"day": "Monday", "vip": True}


def _rendered(renderer: Renderer, templates: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for doc in templates:
        for field in ("email_title", "email_message", "sms_message"):
            if field in doc:
                compiled = renderer.compile(doc[field], field=field, syntax=doc.get("syntax", "jinja"))
                out[f"{doc['name']}.{field}"] = compiled.render(USER, DATA)
    return out


@pytest.fixture
def settings(tmp_path: Path, devdb: DevDatabase, unique: Callable[[str], str]) -> Settings:
    return make_settings(tmp_path, devdb, BASE_CONFIG, MONGODB_DATABASE=unique("migrate").replace("-", "_"))


@pytest.fixture
async def db(settings: Settings, devdb: DevDatabase) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
    yield client[settings.env.mongodb_database]
    await client.drop_database(settings.env.mongodb_database)
    await client.close()


async def test_template_syntax_forward_backward_and_rerun(settings: Settings, db: Any) -> None:
    await db["templates"].insert_many([dict(t) for t in OLD_TEMPLATES])
    renderer = Renderer()
    before = _rendered(renderer, await db["templates"].find().to_list(None))
    assert await pending_migrations(settings) == migration_names()

    await apply_migrations(settings)
    migrated = await db["templates"].find().to_list(None)
    assert [t["syntax"] for t in migrated] == ["jinja", "jinja"]
    assert migrated[0]["email_attachments"] == [{"file": "rules.pdf"}]  # the rest is untouched
    assert _rendered(renderer, migrated) == before
    assert await pending_migrations(settings) == []
    log_size = await db[MIGRATIONS_LOG].count_documents({})

    await apply_migrations(settings)  # nothing pending: a no-op
    assert await db[MIGRATIONS_LOG].count_documents({}) == log_size
    assert await db["templates"].find().to_list(None) == migrated

    await apply_migrations(settings, backward=True)
    reverted = await db["templates"].find().to_list(None)
    assert all("syntax" not in t for t in reverted)
    assert _rendered(renderer, reverted) == before
    assert await pending_migrations(settings) == migration_names()


async def test_start_up_refuses_pending_migrations_unless_told(settings: Settings, db: Any) -> None:
    await db["templates"].insert_one(dict(OLD_TEMPLATES[1]))
    with pytest.raises(PendingMigrations, match=r"pending migration.*template_syntax.*tidings migrate"):
        await ensure_migrated(settings)

    app = create_app(declare_actors(create_broker(None), settings, sweep_interval=None))
    with pytest.raises(ExceptionGroup) as refused:  # the test client's task group wraps it
        async with AsyncTestClient(app):
            pass
    assert refused.group_contains(PendingMigrations)
    assert await db[MIGRATIONS_LOG].count_documents({}) == 0

    await ensure_migrated(settings, apply=True)
    assert (await db["templates"].find_one())["syntax"] == "jinja"
    async with AsyncTestClient(app) as client:
        assert (await client.get("/-/healthz")).status_code == 200


def test_cli_refuses_then_migrates(settings: Settings, devdb: DevDatabase) -> None:
    env = {
        **os.environ,
        "CONFIGURATION_PATH": settings.env.configuration_path or "",
        "MONGODB_URL": devdb.url,
        "MONGODB_DATABASE": settings.env.mongodb_database,
        "REDIS_URL": "redis://127.0.0.1:1",  # never reached: the check comes first
        "SMTP_HOST": "127.0.0.1",  # e-mail is active: without a server `tidings api` would stop before
    }
    env.pop("TIDINGS_AUTO_MIGRATE", None)
    cli = [sys.executable, "-m", "host.cli.main"]
    refused = subprocess.run([*cli, "api"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "pending migration" in refused.stderr and "--migrate" in refused.stderr

    applied = subprocess.run([*cli, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio, host.storage.migrations as m, host.settings as s;"
            "print(asyncio.run(m.pending_migrations(s.load_settings())))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.stdout.strip() == "[]", check.stderr

    back = subprocess.run([*cli, "migrate", "--backward", "-d", "1"], env=env, capture_output=True, text=True)
    assert back.returncode == 0, back.stderr
    check = subprocess.run(check.args, env=env, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == str(migration_names()[-1:]), check.stderr


async def test_template_version_forward_backward_and_rerun(settings: Settings, db: Any) -> None:
    await db["templates"].insert_many(
        [{"name": "old", "sms_message": "hi"}, {"name": "edited", "sms_message": "v3"}]
    )
    await apply_migrations(settings)
    assert [t["version"] for t in await db["templates"].find().sort("name").to_list(None)] == [1, 1]
    assert STEP not in await pending_migrations(settings)

    # saved under history: "edited" is at version 3 with its versions kept; "old" has a kept version 1
    old = await db["templates"].find_one({"name": "old"})
    await db["template_versions"].insert_one(
        {"_id": f"{old['_id']}:1", "template_id": str(old["_id"]), "version": 1}
    )
    await db["templates"].update_one({"name": "edited"}, {"$set": {"version": 3}})
    await apply_migrations(settings)  # nothing pending: a no-op
    assert (await db["templates"].find_one({"name": "edited"}))["version"] == 3

    await apply_migrations(settings, backward=True, distance=1)
    assert "version" not in await db["templates"].find_one({"name": "old"})
    assert (await db["templates"].find_one({"name": "edited"}))["version"] == 3
    assert await db["template_versions"].count_documents({}) == 0  # the stale version 1 is gone
    assert (await pending_migrations(settings))[0] == STEP

    await apply_migrations(settings)
    assert (await db["templates"].find_one({"name": "old"}))["version"] == 1
    assert (await db["templates"].find_one({"name": "old"}))["sms_message"] == "hi"
