"""Template history over the API: list a template's versions, read one, restore one as a new save."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from host.api.routes.templates import TemplateView, caller_name, template_view
from host.runtime.wiring import Runtime

__all__ = [
    "ROUTES",
    "TemplateVersionList",
    "TemplateVersionSummary",
    "get_template_version",
    "list_template_versions",
    "restore_template_version",
]


class TemplateVersionSummary(msgspec.Struct, rename="camel", kw_only=True):
    """One kept version: its number, who saved it and when, whether it is the current one."""

    version: int
    name: str
    saved_by: str | None
    saved_at: datetime | None
    current: bool


class TemplateVersionList(msgspec.Struct, rename="camel", kw_only=True):
    """The versions of a template, newest first."""

    template_id: str
    items: list[TemplateVersionSummary]


@get("/templates/{template_id:str}/versions", summary="The saved versions of a template")
async def list_template_versions(
    template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> TemplateVersionList:
    """Every version kept, newest first; each save (and each restore) adds one."""
    template = await runtime.templates.find(template_id)
    current = int(template.get("version") or 1)
    items = [
        TemplateVersionSummary(
            version=v["version"],
            name=v["fields"].get("name", ""),
            saved_by=v.get("saved_by"),
            saved_at=v.get("saved_at"),
            current=v["version"] == current,
        )
        for v in await runtime.templates.versions(template)
    ]
    return TemplateVersionList(template_id=str(template["_id"]), items=items)


@get("/templates/{template_id:str}/versions/{version:int}", summary="One saved version of a template")
async def get_template_version(
    template_id: FromPath[str], version: FromPath[int], runtime: NamedDependency[Runtime]
) -> TemplateView:
    """The template's fields as they were at this version (``updatedBy``/``updatedAt``: its save)."""
    template = await runtime.templates.find(template_id)
    return template_view(await runtime.templates.version(template, version))


@post(
    "/templates/{template_id:str}/versions/{version:int}/restore",
    status_code=200,
    summary="Restore an older version of a template",
)
async def restore_template_version(
    request: Request[Any, Any, Any],
    template_id: FromPath[str],
    version: FromPath[int],
    runtime: NamedDependency[Runtime],
) -> TemplateView:
    """Save that version's fields as a new version (history only ever grows); returns the template."""
    template = await runtime.templates.find(template_id)
    return template_view(await runtime.templates.restore(template, version, caller_name(request)))


#: the route handlers of this module, registered by the application plugin
ROUTES = [list_template_versions, get_template_version, restore_template_version]
