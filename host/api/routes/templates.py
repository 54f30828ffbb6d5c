"""Tidings' own template API: list, read, create, replace and delete message templates.

Every text field is compiled when a template is saved, so a template that does not compile is refused
with the field and line named, instead of failing later at delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from bson import ObjectId
from litestar import Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from pymongo.errors import DuplicateKeyError

from host.api.paging import Limit, name_query
from host.errors import NotFound, RenderError, RequestError
from host.runtime.wiring import Runtime
from host.templates.history import save_template, version_of
from host.templates.locales import check_variants
from host.templates.rendering import Renderer
from host.templates.rendering.locales import parse_locale

__all__ = [
    "ROUTES",
    "TEXT_FIELDS",
    "AttachmentBody",
    "LocaleVariant",
    "TemplateBody",
    "TemplatePage",
    "TemplateView",
    "caller_name",
    "create_template",
    "delete_template",
    "find_template",
    "get_template",
    "list_templates",
    "replace_template",
    "store_version",
]

Doc = dict[str, Any]
Syntax = Literal["jinja", "handlebars"]
#: ``transactional``: opt-outs do not apply and e-mails carry no List-Unsubscribe (host.audience.opt_outs)
Category = Literal["standard", "transactional"]

#: the text fields of a template (storage keys), all compiled on save; the HTML one is compiled as HTML
TEXT_FIELDS: tuple[str, ...] = (
    "email_title",
    "email_message",
    "email_html_message",
    "sms_message",
    "voice_message",
    "push_title",
    "push_subtitle",
    "push_message",
)
_HTML_FIELD = "email_html_message"


class AttachmentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A template attachment: a Files Service name, shown to the recipient as ``name`` if given."""

    file: Annotated[str, msgspec.Meta(min_length=1)]
    name: str | None = None
    size: int | None = None
    location: str | None = None


class LocaleVariant(
    msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """The text fields of one locale that differ from the template's default ones."""

    email_title: str | None = None
    email_message: str | None = None
    email_html_message: str | None = None
    sms_message: str | None = None
    voice_message: str | None = None
    push_title: str | None = None
    push_subtitle: str | None = None
    push_message: str | None = None


class TemplateBody(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """What a client writes: the template's name, per-channel fields (SPEC §1) and locale variants.

    ``locales`` maps a locale tag (``it-IT``, ``de``) to the fields that differ in it; a user's
    locale picks the variant, falling back from ``it-IT`` to ``it`` to the default fields.
    """

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email_title: str | None = None
    email_message: str | None = None
    email_html_message: str | None = None
    email_attachments: list[AttachmentBody] = []
    sms_message: str | None = None
    voice_message: str | None = None
    push_title: str | None = None
    push_subtitle: str | None = None
    push_message: str | None = None
    push_data: dict[str, Any] = {}
    #: absent: the service's ``templateSyntax`` for a new template, the stored one's for a replaced one
    syntax: Syntax | None = None
    locales: dict[str, LocaleVariant] = {}
    category: Category = "standard"


_JSON_NAMES = {field.name: field.encode_name for field in msgspec.structs.fields(TemplateBody)}


class TemplateView(TemplateBody, kw_only=True):
    """A stored template: its id (use it as ``templateId`` in /send), its version, who wrote it, when."""

    id: str
    version: int = 1
    updated_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class TemplatePage(msgspec.Struct, rename="camel", kw_only=True):
    """A page of templates in name order; pass ``nextAfter`` as ``after`` for the next page."""

    items: list[TemplateView]
    next_after: str | None


def template_view(doc: Doc) -> TemplateView:
    """A template document as the API shows it."""
    return TemplateView(
        id=str(doc["_id"]),
        name=doc["name"],
        **{key: doc.get(key) for key in TEXT_FIELDS},
        email_attachments=[AttachmentBody(**a) for a in doc.get("email_attachments") or []],
        push_data=doc.get("push_data") or {},
        syntax=doc.get("syntax", "jinja"),
        category=doc.get("category") or "standard",
        locales={tag: LocaleVariant(**fields) for tag, fields in (doc.get("locales") or {}).items()},
        version=version_of(doc),
        updated_by=doc.get("updated_by"),
        created_at=doc.get("created_at"),
        updated_at=doc.get("updated_at"),
    )


def compile_fields(renderer: Renderer, body: TemplateBody) -> None:
    """Compile every text field with the template's syntax; 400 naming the field and line if one fails."""
    syntax = body.syntax or renderer.inline_syntax
    for key in TEXT_FIELDS:
        source = getattr(body, key)
        if source is None:
            continue
        try:
            renderer.check(source, field=_JSON_NAMES[key], html=key == _HTML_FIELD, syntax=syntax)
        except RenderError as exc:
            raise RequestError(str(exc)) from exc
    for tag in body.locales:
        try:
            parse_locale(tag)
        except RenderError as exc:
            raise RequestError(f"locales.{tag}: {exc.reason}") from None
    try:
        check_variants(renderer, _variants(body), _JSON_NAMES, (_HTML_FIELD,), syntax)
    except RenderError as exc:
        raise RequestError(str(exc)) from exc


def _variants(body: TemplateBody) -> dict[str, dict[str, str]]:
    """The locale variants in storage form: snake_case keys, only the fields given."""
    return {
        tag: {key: value for key, value in msgspec.structs.asdict(variant).items() if value is not None}
        for tag, variant in body.locales.items()
    }


def caller_name(request: Request[Any, Any, Any]) -> str:
    """Who is calling, as template history records it.

    The API key's name (else its prefix) as the key check leaves them in the request state, or ``api``
    when key checks are off.
    """
    state = request.scope.get("state") or {}
    for key in ("api_key_name", "api_key"):
        who = state.get(key)
        if isinstance(who, str) and who:
            return who
    return "api"


def _document(body: TemplateBody) -> Doc:
    doc: Doc = {key: getattr(body, key) for key in TEXT_FIELDS}
    doc["name"] = body.name
    doc["email_attachments"] = msgspec.to_builtins(body.email_attachments)
    doc["push_data"] = body.push_data
    doc["syntax"] = body.syntax
    doc["category"] = body.category
    doc["locales"] = _variants(body)
    return doc


def _lookup(template_id: str) -> Doc:
    return {"_id": ObjectId(template_id)} if ObjectId.is_valid(template_id) else {"name": template_id}


async def find_template(runtime: Runtime, template_id: str) -> Doc:
    """The template with this id or name; NotFound (404) if none."""
    doc = await runtime.store.templates.find_one(_lookup(template_id))
    if doc is None:
        raise NotFound(f"templateId: no template with id or name {template_id!r}")
    return doc


def _duplicate(name: str) -> RequestError:
    return RequestError(f"name: a template named {name!r} already exists", status_code=409)


@get("/templates", summary="List templates, searched by name")
async def list_templates(
    runtime: NamedDependency[Runtime],
    name: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
    limit: Limit = 100,
) -> TemplatePage:
    """Templates in name order; ``name`` matches any part of the name, ignoring case."""
    query = name_query(name, after)
    docs = await runtime.store.templates.find(query).sort("name", 1).limit(limit).to_list(None)
    items = [template_view(doc) for doc in docs]
    return TemplatePage(items=items, next_after=items[-1].name if len(items) == limit else None)


@get("/templates/{template_id:str}", summary="A template, by id or by name")
async def get_template(template_id: FromPath[str], runtime: NamedDependency[Runtime]) -> TemplateView:
    """The template with this id (an ObjectId) or, failing that, this name."""
    return template_view(await find_template(runtime, template_id))


@post("/templates", status_code=201, summary="Create a template")
async def create_template(
    request: Request[Any, Any, Any], data: JSONBody[TemplateBody], runtime: NamedDependency[Runtime]
) -> TemplateView:
    """Compile every field, then store as version 1; 409 if the name is taken."""
    data = msgspec.structs.replace(data, syntax=data.syntax or runtime.settings.config.template_syntax)
    compile_fields(runtime.renderer, data)
    if await runtime.store.templates.find_one({"name": data.name}, {"_id": 1}) is not None:
        raise _duplicate(data.name)
    try:
        doc = await save_template(runtime.store, None, _document(data), caller_name(request))
    except DuplicateKeyError:
        raise _duplicate(data.name) from None
    return template_view(doc)


@put("/templates/{template_id:str}", summary="Replace a template's fields")
async def replace_template(
    request: Request[Any, Any, Any],
    template_id: FromPath[str],
    data: JSONBody[TemplateBody],
    runtime: NamedDependency[Runtime],
) -> TemplateView:
    """Every field is replaced (absent ones are cleared) as a new version; a taken name is a 409.

    The version replaced stays readable under ``/templates/{id}/versions``.
    """
    current = await find_template(runtime, template_id)
    data = msgspec.structs.replace(data, syntax=data.syntax or current.get("syntax", "jinja"))
    compile_fields(runtime.renderer, data)
    return await store_version(runtime, current, _document(data), caller_name(request))


async def store_version(runtime: Runtime, current: Doc, fields: Doc, saved_by: str) -> TemplateView:
    """Save ``fields`` over ``current`` as its next version; 409 if the new name is taken."""
    name = fields["name"]
    if name != current["name"] and await runtime.store.templates.find_one({"name": name}, {"_id": 1}):
        raise _duplicate(name)
    try:
        doc = await save_template(runtime.store, current, fields, saved_by)
    except DuplicateKeyError:
        raise _duplicate(name) from None
    return template_view(doc)


@delete("/templates/{template_id:str}", summary="Delete a template")
async def delete_template(template_id: FromPath[str], runtime: NamedDependency[Runtime]) -> None:
    """Deliveries still pending for a dispatch that uses it will fail: they render when sent."""
    current = await find_template(runtime, template_id)
    await runtime.store.templates.delete_one({"_id": current["_id"]})


#: the route handlers of this module, registered by the application plugin
ROUTES = [list_templates, get_template, create_template, replace_template, delete_template]
