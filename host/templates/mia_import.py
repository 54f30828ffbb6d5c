"""Importing Mia's templates collection into Tidings' own, keeping every ``_id`` (stored templateIds work).

Each PUBLIC document is converted (host.templates.mia_shape) and saved through the template history:
a new one as version 1 under its own ``_id``, a changed one as its next version, an unchanged one not at
all, so running the import again changes nothing. A template is imported even when one of its fields
does not compile here yet (a Handlebars helper Tidings lacks): the report names the field, and a send
using it answers 400 naming it too, until it compiles. Skipped, and reported: documents not PUBLIC
(Mia cannot use them either) and names another Tidings template already has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, NamedTuple

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from host.errors import RenderError, RequestError
from host.storage.store import Store
from host.templates import history
from host.templates.catalogue import OwnTemplates
from host.templates.fields import HTML_KEYS, JSON_NAMES, TEXT_KEYS
from host.templates.mia_shape import STATE, from_mia, is_public
from host.templates.push_data import check_push_data
from host.templates.rendering import Renderer

__all__ = ["ImportedTemplate", "import_mia_templates"]

Doc = dict[str, Any]
Outcome = Literal["imported", "updated", "unchanged", "skipped"]
#: what a template is, as opposed to who saved it when
_CONTENT = ("name", *TEXT_KEYS, "email_attachments", "push_data", "syntax", "category", "locales")
#: who saved an imported version, as the history shows it
IMPORTER = "import-mia"


class ImportedTemplate(NamedTuple):
    """What became of one Mia template, and what could not be carried over."""

    id: str
    name: str
    outcome: Outcome
    problems: list[str]


def _compile_problems(renderer: Renderer, template: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    syntax = template["syntax"]
    for key in TEXT_KEYS:
        source = template.get(key)
        if source:
            try:
                renderer.check(source, field=JSON_NAMES[key], html=key in HTML_KEYS, syntax=syntax)
            except RenderError as exc:
                problems.append(f"{exc}: imported, but sends using it answer 400 until it compiles")
    try:
        check_push_data(renderer, template.get("push_data"), syntax)
    except RenderError as exc:
        problems.append(f"{exc}: imported, but its pushes fail until it is fixed")
    return problems


def _same(current: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    return all((current.get(key) or None) == (template.get(key) or None) for key in _CONTENT)


async def _import_one(store: Store, own: OwnTemplates, renderer: Renderer, doc: Doc) -> ImportedTemplate:
    template, problems = from_mia(doc)
    template_id, name = str(doc["_id"]), template["name"]
    if not is_public(doc):
        return ImportedTemplate(template_id, name, "skipped", [f"not PUBLIC ({STATE} is {doc[STATE]!r})"])
    holder = await own.find_one({"name": name})
    if holder is not None and holder["_id"] != doc["_id"]:
        reason = f"name: {name!r} is already the name of Tidings template {holder['_id']}"
        return ImportedTemplate(template_id, name, "skipped", [*problems, reason])
    problems.extend(_compile_problems(renderer, template))
    fields = {key: template[key] for key in _CONTENT}
    current = await own.find_one({"_id": doc["_id"]})
    try:
        if current is None:
            await history.save_template(store, own, None, {"_id": doc["_id"], **fields}, IMPORTER)
            return ImportedTemplate(template_id, name, "imported", problems)
        if _same(current, fields):
            return ImportedTemplate(template_id, name, "unchanged", problems)
        await history.save_template(store, own, current, fields, IMPORTER)
    except (DuplicateKeyError, RequestError) as exc:
        return ImportedTemplate(template_id, name, "skipped", [*problems, f"not saved: {exc}"])
    return ImportedTemplate(template_id, name, "updated", problems)


async def import_mia_templates(
    store: Store, renderer: Renderer, source: AsyncCollection[Doc]
) -> AsyncIterator[ImportedTemplate]:
    """Import every document of ``source`` into the store's own templates, in ``_id`` order."""
    own = OwnTemplates(store.templates, default_syntax="handlebars")
    async for doc in source.find({}).sort("_id", 1):
        yield await _import_one(store, own, renderer, doc)
