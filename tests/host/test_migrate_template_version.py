"""The template ``version`` migration, forward and backward, on the development database."""

from __future__ import annotations

from typing import Any

from host.settings import Settings
from host.storage.migrations import apply_migrations, pending_migrations
from tests.host.test_migrate import db, settings  # noqa: F401 (fixtures)

STEP = "20250601000000_template_version.py"


async def test_template_version_forward_backward_and_rerun(settings: Settings, db: Any) -> None:  # noqa: F811
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
