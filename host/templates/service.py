"""The template service: the one way the API and the console read, check, save and delete templates.

Templates are kept in a catalogue (host.templates.catalogue): Tidings' own collection, or Mia's templates
CRUD read and written in place; either way the service sees documents with snake_case keys
(host.templates.fields). Saving compiles every text field (a string ``pushData`` too) and every locale
variant with the template's syntax first (the catalogue's default when none is given: Handlebars for
Mia's), so a template that does not compile is refused with the field and line named (RequestError, a
400), whoever saves it; each save is a new version (host.templates.history) and a taken name is a 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.errors import DuplicateKeyError

from host.errors import RenderError, RequestError
from host.storage.nesting import nesting_problem
from host.storage.store import Store
from host.templates import history
from host.templates.attachment_names import check_attachment_names
from host.templates.catalogue import Catalogue, OwnTemplates
from host.templates.fields import HTML_KEYS, JSON_NAMES, TEXT_KEYS
from host.templates.locales import check_variants
from host.templates.push_data import FIELD as PUSH_DATA
from host.templates.push_data import check_push_data
from host.templates.rendering import Renderer, Syntax
from host.templates.rendering.locales import parse_locale

__all__ = ["TemplateService"]

Doc = dict[str, Any]
#: the keys of a stored template that describe a version rather than its content
_VERSION_KEYS = ("_id", "version", "updated_by", "created_at", "updated_at")


def _duplicate(name: str) -> RequestError:
    return RequestError(f"name: a template named {name!r} already exists", status_code=409)


class TemplateService:
    """Templates of one store, compiled with one renderer."""

    def __init__(self, store: Store, renderer: Renderer, catalogue: Catalogue | None = None) -> None:
        self._store = store
        self._renderer = renderer
        self.catalogue: Catalogue = catalogue or OwnTemplates(store.templates)

    def _syntax(self, fields: Mapping[str, Any]) -> Syntax:
        given = fields.get("syntax")
        return given if given in ("jinja", "handlebars") else self.catalogue.default_syntax

    async def total(self) -> int:
        """About how many templates are stored (the collection's estimate)."""
        return await self.catalogue.total()

    async def find(self, template_id: str) -> Doc:
        """The template with this id (an ObjectId) or, failing that, this name; NotFound (404) if none."""
        return await history.find_template(self.catalogue, template_id)

    async def search(self, query: Mapping[str, Any], limit: int) -> list[Doc]:
        """Templates matching a query on their stored fields, in name order."""
        return await self.catalogue.search(query, limit)

    async def check(self, fields: Mapping[str, Any]) -> None:
        """Compile every text field and locale variant (off the event loop, within the compile budget),
        check the attachments' names; RequestError naming the field if one fails."""
        files = [item.get("file") for item in fields.get("email_attachments") or () if isinstance(item, dict)]
        check_attachment_names(files, "emailAttachments", "file")
        problem = nesting_problem(fields.get("push_data"), "pushData")
        if problem is not None:
            raise RequestError(problem)
        syntax = self._syntax(fields)
        try:
            for key in TEXT_KEYS:
                source = fields.get(key)
                if source:
                    html = key in HTML_KEYS
                    await self._renderer.check_async(source, field=JSON_NAMES[key], html=html, syntax=syntax)
            push_data = fields.get("push_data")
            if isinstance(push_data, str):  # off the loop first: check_push_data then finds the verdict
                await self._renderer.check_async(push_data, field=PUSH_DATA, html=False, syntax=syntax)
            check_push_data(self._renderer, push_data, syntax)
        except RenderError as exc:
            raise RequestError(str(exc)) from exc
        variants: Mapping[str, Mapping[str, str | None]] = fields.get("locales") or {}
        for tag in variants:
            try:
                parse_locale(tag)
            except RenderError as exc:
                raise RequestError(f"locales.{tag}: {exc.reason}") from None
        try:
            await check_variants(self._renderer, variants, JSON_NAMES, HTML_KEYS, syntax)
        except RenderError as exc:
            raise RequestError(str(exc)) from exc

    async def create(self, fields: Mapping[str, Any], saved_by: str | None) -> Doc:
        """Check, then store as version 1; 409 if the name is taken."""
        fields = {**fields, "syntax": self._syntax(fields)}
        await self.check(fields)
        name = fields["name"]
        if await self.catalogue.find_one({"name": name}) is not None:
            raise _duplicate(name)
        try:
            return await history.save_template(self._store, self.catalogue, None, fields, saved_by)
        except DuplicateKeyError:
            raise _duplicate(name) from None

    async def replace(
        self, current: Mapping[str, Any], fields: Mapping[str, Any], saved_by: str | None
    ) -> Doc:
        """Check, then save ``fields`` over ``current`` as its next version; 409 if the new name is taken."""
        fields = {**fields, "syntax": self._syntax(fields)}
        await self.check(fields)
        name = fields["name"]
        if name != current["name"] and await self.catalogue.find_one({"name": name}):
            raise _duplicate(name)
        try:
            return await history.save_template(self._store, self.catalogue, current, fields, saved_by)
        except DuplicateKeyError:
            raise _duplicate(name) from None

    async def delete(self, template: Mapping[str, Any]) -> None:
        """Delete a template (its kept versions stay, for dispatches that name them)."""
        await self.catalogue.delete(template["_id"])

    async def versions(self, template: Mapping[str, Any]) -> list[Doc]:
        """Every kept version, newest first (host.templates.history)."""
        return await history.list_versions(self._store, template)

    async def version(self, template: Mapping[str, Any], number: int) -> Doc:
        """The template as it was at one version; NotFound if that version is not kept."""
        kept = await history.load_version(self._store, template, number)
        return history.as_template(kept, template)

    async def restore(self, template: Mapping[str, Any], number: int, saved_by: str | None) -> Doc:
        """Save an older version's fields as a new version (history only ever grows)."""
        old = await self.version(template, number)
        fields = {key: value for key, value in old.items() if key not in _VERSION_KEYS}
        return await self.replace(template, fields, saved_by)

    async def for_dispatch(self, dispatch: Mapping[str, Any]) -> Doc | None:
        """The template of a dispatch at the version it was accepted with (None: it has no template)."""
        return await history.template_for_dispatch(self._store, self.catalogue, dispatch)
