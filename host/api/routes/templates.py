"""Tidings' own template API: list, read, create, replace and delete message templates (scope ``manage``).

Every text field is compiled when a template is saved (host.templates.service), so a template that does
not compile is refused with the field and line named, instead of failing later at delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from host.api.paging import Limit
from host.runtime.wiring import Runtime
from host.storage.queries import name_query
from host.templates.fields import TEXT_KEYS, Category, LocaleVariant

__all__ = [
    "ROUTES",
    "AttachmentBody",
    "TemplateBody",
    "TemplatePage",
    "TemplateView",
    "caller_name",
    "create_template",
    "delete_template",
    "get_template",
    "list_templates",
    "replace_template",
    "template_fields",
    "template_view",
]

Doc = dict[str, Any]
Syntax = Literal["jinja", "handlebars"]


class AttachmentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A template attachment: a Files Service name, shown to the recipient as ``name`` if given."""

    file: Annotated[str, msgspec.Meta(min_length=1)]
    name: str | None = None
    size: int | None = None
    location: str | None = None


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
    #: an object sent as it is, or (Mia's type) a string holding JSON, interpolated then parsed
    push_data: dict[str, Any] | str = {}
    #: absent: for a new template the store's default (``templateSyntax``; Handlebars in Mia's
    #: collection), for a replaced one the stored one's
    syntax: Syntax | None = None
    locales: dict[str, LocaleVariant] = {}
    category: Category = "standard"


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
        **{key: doc.get(key) for key in TEXT_KEYS},
        email_attachments=[AttachmentBody(**a) for a in doc.get("email_attachments") or []],
        push_data=doc.get("push_data") or {},
        syntax=doc.get("syntax") or "jinja",
        category=doc.get("category") or "standard",
        locales={tag: LocaleVariant(**fields) for tag, fields in (doc.get("locales") or {}).items()},
        version=int(doc.get("version") or 1),
        updated_by=doc.get("updated_by"),
        created_at=doc.get("created_at"),
        updated_at=doc.get("updated_at"),
    )


def template_fields(body: TemplateBody, default_syntax: Syntax) -> Doc:
    """A body as the stored fields of a template (snake_case; locale variants with only given fields)."""
    doc: Doc = {key: getattr(body, key) for key in TEXT_KEYS}
    doc["name"] = body.name
    doc["email_attachments"] = msgspec.to_builtins(body.email_attachments)
    doc["push_data"] = body.push_data
    doc["syntax"] = body.syntax or default_syntax
    doc["category"] = body.category
    doc["locales"] = {
        tag: {key: value for key, value in msgspec.structs.asdict(variant).items() if value is not None}
        for tag, variant in body.locales.items()
    }
    return doc


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


@get("/templates", summary="List templates, searched by name")
async def list_templates(
    runtime: NamedDependency[Runtime],
    name: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
    limit: Limit = 100,
) -> TemplatePage:
    """Templates in name order; ``name`` matches any part of the name, ignoring case."""
    items = [template_view(doc) for doc in await runtime.templates.search(name_query(name, after), limit)]
    return TemplatePage(items=items, next_after=items[-1].name if len(items) == limit else None)


@get("/templates/{template_id:str}", summary="A template, by id or by name")
async def get_template(template_id: FromPath[str], runtime: NamedDependency[Runtime]) -> TemplateView:
    """The template with this id (an ObjectId) or, failing that, this name."""
    return template_view(await runtime.templates.find(template_id))


@post("/templates", status_code=201, summary="Create a template")
async def create_template(
    request: Request[Any, Any, Any], data: JSONBody[TemplateBody], runtime: NamedDependency[Runtime]
) -> TemplateView:
    """Compile every field, then store as version 1; 409 if the name is taken."""
    fields = template_fields(data, runtime.templates.catalogue.default_syntax)
    return template_view(await runtime.templates.create(fields, caller_name(request)))


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
    current = await runtime.templates.find(template_id)
    fields = template_fields(data, current.get("syntax") or "jinja")
    return template_view(await runtime.templates.replace(current, fields, caller_name(request)))


@delete("/templates/{template_id:str}", summary="Delete a template")
async def delete_template(template_id: FromPath[str], runtime: NamedDependency[Runtime]) -> None:
    """Deliveries still pending for a dispatch that uses it will fail: they render when sent."""
    await runtime.templates.delete(await runtime.templates.find(template_id))


#: the route handlers of this module, registered by the application plugin
ROUTES = [list_templates, get_template, create_template, replace_template, delete_template]
