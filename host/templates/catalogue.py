"""Where templates are kept: Tidings' own ``templates`` collection, or Mia's templates CRUD in place.

The template service and its history (host.templates.service, host.templates.history) read and write
templates through a catalogue, always in Tidings' shape (snake_case, host.templates.fields). With
``TEMPLATES_CRUD_NAME`` set, the catalogue is Mia's collection itself: documents are converted on the
way in and out (host.templates.mia_shape), CRUD fields and any others are kept, new documents are
``PUBLIC`` with the CRUD's ``creatorId``/``createdAt``, and a document whose ``__STATE__`` is not
``PUBLIC`` is not there (as the CRUD Service shows it). The state is checked in Python after the
lookup by ``_id``, so that lookup stays on one indexed field. Tidings creates no index on Mia's
collection; a name is unique there because the service checks it before saving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from host.settings import Settings
from host.storage.store import Store
from host.templates.mia_shape import MIA_SYNTAX, PUBLIC, STATE, from_mia, is_public, mia_update
from host.templates.rendering import Syntax

__all__ = ["Catalogue", "MiaTemplates", "OwnTemplates", "catalogue_for", "id_query"]

Doc = dict[str, Any]


def id_query(template_id: str) -> Doc:
    """The query of a template by id (an ObjectId, as Mia's) or, as a convenience, by its name."""
    return {"_id": ObjectId(template_id)} if ObjectId.is_valid(template_id) else {"name": template_id}


class Catalogue(Protocol):
    """A collection of templates, read and written in Tidings' shape."""

    #: the syntax of a template saved without one
    default_syntax: Syntax
    #: where the templates are, for messages (``templates``, ``message_templates (Mia's)``)
    description: str

    async def find_one(self, query: Mapping[str, Any]) -> Doc | None:
        """The template matching a query on ``_id`` or ``name``."""
        ...

    async def search(self, query: Mapping[str, Any], limit: int) -> list[Doc]:
        """Templates matching a query on their stored names, in name order."""
        ...

    async def total(self) -> int:
        """About how many templates there are."""
        ...

    async def insert(self, template: Doc, saved_by: str | None) -> None:
        """Store a new template (``_id`` set on it when it has none)."""
        ...

    async def replace(self, template_id: Any, version: Any, template: Doc) -> bool:
        """Replace the template if it is still at ``version``; False if another save came first."""
        ...

    async def delete(self, template_id: Any) -> None:
        """Delete a template."""
        ...


class OwnTemplates:
    """Tidings' ``templates`` collection, whose documents are Tidings' shape as they are."""

    def __init__(self, collection: AsyncCollection[Doc], default_syntax: Syntax = "jinja") -> None:
        self._collection = collection
        self.default_syntax: Syntax = default_syntax
        self.description = collection.name

    async def find_one(self, query: Mapping[str, Any]) -> Doc | None:
        return await self._collection.find_one(dict(query))

    async def search(self, query: Mapping[str, Any], limit: int) -> list[Doc]:
        return await self._collection.find(dict(query)).sort("name", 1).limit(limit).to_list(None)

    async def total(self) -> int:
        return await self._collection.estimated_document_count()

    async def insert(self, template: Doc, saved_by: str | None) -> None:
        await self._collection.insert_one(template)

    async def replace(self, template_id: Any, version: Any, template: Doc) -> bool:
        replaced = await self._collection.replace_one({"_id": template_id, "version": version}, template)
        return replaced.matched_count > 0

    async def delete(self, template_id: Any) -> None:
        await self._collection.delete_one({"_id": template_id})


class MiaTemplates:
    """Mia's templates CRUD collection, read and written in place, in Mia's shape."""

    default_syntax: Syntax = MIA_SYNTAX

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self._collection = collection
        self.description = f"{collection.name} (Mia's templates)"

    async def find_one(self, query: Mapping[str, Any]) -> Doc | None:
        if "_id" in query:  # one indexed field; the state is checked here
            doc = await self._collection.find_one(dict(query))
            return from_mia(doc).template if doc is not None and is_public(doc) else None
        async for doc in self._collection.find(dict(query)):  # by name: few templates, scanned
            if is_public(doc):
                return from_mia(doc).template
        return None

    async def search(self, query: Mapping[str, Any], limit: int) -> list[Doc]:
        # off the hot path (the API's list, the console): the state goes in the query, for paging
        live = {"$or": [{STATE: PUBLIC}, {STATE: {"$exists": False}}]}
        cursor = self._collection.find({"$and": [dict(query), live]} if query else live)
        return [from_mia(doc).template for doc in await cursor.sort("name", 1).limit(limit).to_list(None)]

    async def total(self) -> int:
        return await self._collection.estimated_document_count()

    async def insert(self, template: Doc, saved_by: str | None) -> None:
        values, _ = mia_update(template)
        created = template.get("created_at")
        document: Doc = {**values, STATE: PUBLIC, "creatorId": saved_by, "createdAt": created}
        if "_id" in template:
            document["_id"] = template["_id"]
        await self._collection.insert_one(document)
        template["_id"] = document["_id"]

    async def replace(self, template_id: Any, version: Any, template: Doc) -> bool:
        values, unset = mia_update(template)
        update: Doc = {"$set": values}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        # a document never saved by Tidings has no `version`: it is version 1 (`null` matches it)
        current = {"_id": template_id, "version": {"$in": [None, 1]} if version in (None, 1) else version}
        changed = await self._collection.update_one(current, update)
        return changed.matched_count > 0

    async def delete(self, template_id: Any) -> None:
        await self._collection.delete_one({"_id": template_id})


def catalogue_for(store: Store, settings: Settings) -> Catalogue:
    """Mia's collection when ``TEMPLATES_CRUD_NAME`` names one (always Handlebars, as Mia renders), else
    Tidings' own (new templates in ``templateSyntax``)."""
    name = settings.env.mia_templates_collection
    if name:
        return MiaTemplates(store.db[name])
    return OwnTemplates(store.templates, default_syntax=settings.config.template_syntax)
