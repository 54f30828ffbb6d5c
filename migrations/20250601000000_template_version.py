"""Templates get a ``version``: every template written before template history is version 1.

Forward sets ``version: 1`` on templates that have none; backward removes it, and their kept version 1,
from the templates still at version 1 (those forward touched, unless saved since). Templates saved
under history keep their version, as ``template_versions`` keeps their versions: going forward again
continues where they were. Free-fall steps, like the ``syntax`` step.
"""

from __future__ import annotations

from typing import Any

from beanie import Document, free_fall_migration


class Template(Document):
    """The templates collection as this step sees it."""

    name: str

    class Settings:
        name = "templates"


class Forward:
    @free_fall_migration(document_models=[Template])
    async def add_version(self: Any, session: Any) -> None:
        await Template.get_pymongo_collection().update_many(
            {"version": {"$exists": False}}, {"$set": {"version": 1}}, session=session
        )


class Backward:
    @free_fall_migration(document_models=[Template])
    async def remove_version(self: Any, session: Any) -> None:
        templates = Template.get_pymongo_collection()
        firsts = [f"{t['_id']}:1" async for t in templates.find({"version": 1}, {"_id": 1}, session=session)]
        # the code before this step edits them without history: a kept version 1 would go stale
        await templates.database["template_versions"].delete_many({"_id": {"$in": firsts}}, session=session)
        await templates.update_many({"version": 1}, {"$unset": {"version": ""}}, session=session)
