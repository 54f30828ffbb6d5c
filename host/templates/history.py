"""Template history: every save of a template is a new version, and every version is kept.

A template document carries ``version`` (1 when created, +1 per save) and ``updated_by``. Each version
is also written to ``template_versions`` as ``<template id>:<version>`` with all the template's fields,
who saved it and when; a template saved before history existed gets its current version archived on
its next save, so every version a dispatch may name is there. A save replaces the template only if
its version is still the one read (two editors saving at once: the second gets a 409).

A dispatch records the version it was accepted with; the worker renders that version
(:func:`template_for_dispatch`), so an edit never changes a message already queued.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from host.errors import NotFound, RequestError
from host.storage.documents import TemplateVersion, utcnow
from host.storage.store import Store
from host.templates.catalogue import Catalogue, id_query

__all__ = [
    "archive",
    "as_template",
    "find_template",
    "list_versions",
    "load_version",
    "save_template",
    "snapshot",
    "template_for_dispatch",
    "version_of",
    "versions_of",
]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
#: the keys of a template document that describe the version rather than its content
_BOOKKEEPING = frozenset({"_id", "version", "updated_by", "created_at", "updated_at"})


async def find_template(catalogue: Catalogue, template_id: str) -> Doc:
    """The template with this id (an ObjectId, as Mia's) or, as a convenience, this unique name."""
    template = await catalogue.find_one(id_query(template_id))
    if template is None:
        raise NotFound(f"templateId: no template with id or name {template_id!r}")
    return template


def versions_of(store: Store) -> AsyncCollection[Doc]:
    """The ``template_versions`` collection of this store's database."""
    return store.db[TemplateVersion.Settings.name]


def version_of(template: Mapping[str, Any]) -> int:
    """A template's version (templates written before versions existed are version 1)."""
    return int(template.get("version") or 1)


def snapshot(template: Mapping[str, Any]) -> Doc:
    """The ``template_versions`` document of a template's current version."""
    version = version_of(template)
    return {
        "_id": f"{template['_id']}:{version}",
        "template_id": str(template["_id"]),
        "version": version,
        "fields": {k: v for k, v in template.items() if k not in _BOOKKEEPING},
        "saved_by": template.get("updated_by"),
        "saved_at": template.get("updated_at") or template.get("created_at"),
    }


def as_template(version: Mapping[str, Any], template: Mapping[str, Any]) -> Doc:
    """The template document as it was at ``version`` (its id and creation time are the template's)."""
    return {
        **version["fields"],
        "_id": template["_id"],
        "version": version["version"],
        "updated_by": version.get("saved_by"),
        "created_at": template.get("created_at"),
        "updated_at": version.get("saved_at"),
    }


async def archive(store: Store, template: Mapping[str, Any]) -> None:
    """Keep the template's current version (already kept: nothing to do)."""
    with contextlib.suppress(DuplicateKeyError):
        await versions_of(store).insert_one(snapshot(template))


async def save_template(
    store: Store,
    catalogue: Catalogue,
    current: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
    saved_by: str | None,
) -> Doc:
    """Create (``current`` None) or replace a template as a new version; returns the stored document.

    A new template keeps an ``_id`` given in ``fields`` (an import). DuplicateKeyError if the name is
    taken; RequestError (409) if another save came first.
    """
    now = utcnow()
    if current is None:
        doc: Doc = {**fields, "version": 1, "updated_by": saved_by, "created_at": now, "updated_at": now}
        await catalogue.insert(doc, saved_by)
        await archive(store, doc)
        return doc
    await archive(store, current)  # a template older than history: keep the version being replaced
    doc = {
        **fields,
        "version": version_of(current) + 1,
        "updated_by": saved_by,
        "created_at": current.get("created_at"),
        "updated_at": now,
    }
    if not await catalogue.replace(current["_id"], current.get("version"), doc):
        raise RequestError(
            f"template {current.get('name')!r} was saved by someone else meanwhile: reload it and retry",
            status_code=409,
        )
    doc["_id"] = current["_id"]
    await archive(store, doc)
    return doc


async def list_versions(store: Store, template: Mapping[str, Any]) -> list[Doc]:
    """Every kept version of a template, newest first (the current one even if not archived yet)."""
    cursor = versions_of(store).find({"template_id": str(template["_id"])})
    versions = sorted(await cursor.to_list(None), key=lambda v: v["version"], reverse=True)
    if not versions or versions[0]["version"] < version_of(template):
        versions.insert(0, snapshot(template))
    return versions


async def load_version(store: Store, template: Mapping[str, Any], version: int) -> Doc:
    """One kept version of a template; NotFound if there is no such version."""
    if version == version_of(template):
        return snapshot(template)
    found = await versions_of(store).find_one({"_id": f"{template['_id']}:{version}"})
    if found is None:
        raise NotFound(f"version: template {template.get('name')!r} has no version {version}")
    return found


async def template_for_dispatch(
    store: Store, catalogue: Catalogue, dispatch: Mapping[str, Any]
) -> Doc | None:
    """The template of a dispatch at the version it was accepted with (None: it has no template)."""
    template_id = dispatch.get("template_id")
    if not template_id:
        return None
    template = await find_template(catalogue, template_id)
    wanted = dispatch.get("template_version")
    if wanted is None or wanted == version_of(template):
        return template
    kept = await versions_of(store).find_one({"_id": f"{template['_id']}:{wanted}"})
    if kept is None:
        log.warning("template %s has no version %s kept: using the current one", template_id, wanted)
        return template
    return as_template(kept, template)
