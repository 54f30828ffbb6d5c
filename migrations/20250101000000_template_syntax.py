"""Templates get a ``syntax`` field: every template written before it is Jinja2.

Forward sets ``syntax: "jinja"`` on templates that have none; backward removes it from the Jinja2 ones
(a Handlebars template has no representation before this step and is left as it is). Free-fall steps
with ``update_many``: an iterative step would rewrite whole documents through a model, and the frozen
model below names only what this step touches.
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
    async def add_syntax(self: Any, session: Any) -> None:
        await Template.get_pymongo_collection().update_many(
            {"syntax": {"$exists": False}}, {"$set": {"syntax": "jinja"}}, session=session
        )


class Backward:
    @free_fall_migration(document_models=[Template])
    async def remove_syntax(self: Any, session: Any) -> None:
        await Template.get_pymongo_collection().update_many(
            {"syntax": "jinja"}, {"$unset": {"syntax": ""}}, session=session
        )
