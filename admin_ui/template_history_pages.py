"""Console pages for template history: every version with a per-field diff, and restoring one."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from admin_ui.pages import client_redirect, console_path, page
from admin_ui.preview import TEMPLATE_FIELDS
from admin_ui.sessions import session_of
from host.errors import NotFound, RequestError
from host.runtime.wiring import Runtime

__all__ = ["FieldDiff", "VersionEntry", "field_diffs", "restore_version", "template_history"]

#: storage key → label of every field the history compares, in display order
_COMPARED: dict[str, str] = {
    "name": "Name",
    **{key: label for key, (label, _channel, _html) in TEMPLATE_FIELDS.items()},
    "locales": "Locale variants",
    "syntax": "Syntax",
}


@dataclass
class FieldDiff:
    """The unified diff of one field between a version and the one before it."""

    key: str
    label: str
    lines: list[str]


@dataclass
class VersionEntry:
    """One version as the history page lists it."""

    version: int
    saved_by: str | None
    saved_at: Any
    current: bool
    diffs: list[FieldDiff] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None or value == {} or value == "":
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def field_diffs(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldDiff]:
    """Per field, the lines that changed from ``before`` to ``after`` (difflib's unified diff)."""
    diffs = []
    for key, label in _COMPARED.items():
        old, new = _text(before.get(key)), _text(after.get(key))
        if old != new:
            lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="")
            diffs.append(FieldDiff(key=key, label=label, lines=list(lines)[2:]))  # drop the ---/+++ header
    return diffs


@get("/templates/{template_id:str}/history", include_in_schema=False)
async def template_history(
    request: Request[Any, Any, Any], template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """The versions of a template, newest first, each with what it changed from the one before."""
    template = await runtime.templates.find(template_id)
    versions = await runtime.templates.versions(template)
    entries = []
    for index, kept in enumerate(versions):
        before = versions[index + 1]["fields"] if index + 1 < len(versions) else {}
        entries.append(
            VersionEntry(
                version=kept["version"],
                saved_by=kept.get("saved_by"),
                saved_at=kept.get("saved_at"),
                current=kept["version"] == int(template.get("version") or 1),
                diffs=field_diffs(before, kept["fields"]),
            )
        )
    return page(request, "template_history.html", template=template, entries=entries)


@post("/templates/{template_id:str}/versions/{version:str}/restore", include_in_schema=False, status_code=200)
async def restore_version(
    request: Request[Any, Any, Any],
    template_id: FromPath[str],
    version: FromPath[str],
    runtime: NamedDependency[Runtime],
) -> Response[Any]:
    """Save an older version's fields as the template's next version, then open the editor."""
    template = await runtime.templates.find(template_id)
    if not (version.isascii() and version.isdigit()):  # "²".isdigit(), but int("²") fails
        raise NotFound(f"no version {version!r}")
    try:
        await runtime.templates.restore(template, int(version), session_of(request).get("staff"))
    except RequestError as exc:
        if exc.status_code == 404:
            raise
        reason = "another template has its name" if exc.message.startswith("name:") else exc.message
        return Response(content=f"Not restored: {reason}.", status_code=409, media_type="text/plain")
    return client_redirect(console_path("templates", template_id))
