"""Mia's template documents and Tidings' own: the field-by-field conversion, both ways.

Mia's templates CRUD (its configuration page) holds ``name``, ``emailTitle``, ``emailMessage``,
``emailHtmlMessage``, ``emailAttachments`` (objects of the Files Service, ``file`` required; plain
names before Mia 1.2), ``smsMessage``, ``voiceMessage``, ``pushTitle``, ``pushSubtitle``,
``pushMessage`` and ``pushData`` (a string holding JSON, interpolated), beside the CRUD's own
``_id`` (an ObjectId), ``__STATE__``, ``creatorId``, ``createdAt``, ``updaterId`` and ``updatedAt``.
Tidings keeps the same content with snake_case keys (host.templates.fields); what Tidings adds
(``syntax``, ``category``, ``locales``, ``version``) is written into a Mia document under those names, so
Mia's own services read the document as before. Every Mia template is Handlebars.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from host.templates.fields import JSON_NAMES, TEXT_KEYS
from host.templates.rendering import Syntax

__all__ = [
    "CRUD_FIELDS",
    "MIA_SYNTAX",
    "PUBLIC",
    "STATE",
    "Converted",
    "from_mia",
    "is_public",
    "mia_update",
]

Doc = dict[str, Any]
#: the CRUD's soft-delete field and its one live value
STATE = "__STATE__"
PUBLIC = "PUBLIC"
#: what the CRUD Service writes on every document
CRUD_FIELDS = frozenset({"_id", STATE, "creatorId", "createdAt", "updaterId", "updatedAt"})
#: Mia renders with Handlebars, so its templates are Handlebars
MIA_SYNTAX: Syntax = "handlebars"
#: fields Tidings writes into a Mia document beside Mia's own
_TIDINGS_EXTRAS = ("syntax", "category", "locales", "version")
_CONTENT = (*(JSON_NAMES[key] for key in TEXT_KEYS), "name", "emailAttachments", "pushData")
_KNOWN = frozenset({*CRUD_FIELDS, *_CONTENT, *_TIDINGS_EXTRAS})
_BY_CAMEL = {name: key for key, name in JSON_NAMES.items()}


class Converted(NamedTuple):
    """A Mia document as a Tidings template, and what could not be carried over (one line each)."""

    template: Doc
    problems: list[str]


def is_public(doc: Mapping[str, Any]) -> bool:
    """Whether the CRUD shows this document (``__STATE__`` PUBLIC, or none: written by another tool)."""
    state = doc.get(STATE)
    return state is None or state == PUBLIC


def _attachments(raw: Any, problems: list[str]) -> list[Doc]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"emailAttachments: not a list ({type(raw).__name__}): left out")
        return []
    kept: list[Doc] = []
    for index, item in enumerate(raw):
        if isinstance(item, str) and item:  # Mia before 1.2 listed file names
            kept.append({"file": item})
        elif isinstance(item, Mapping) and isinstance(item.get("file"), str) and item["file"]:
            kept.append(
                {key: item[key] for key in ("file", "name", "size", "location") if item.get(key) is not None}
            )
        else:
            problems.append(f"emailAttachments[{index}]: no file name (the Files Service's 'file'): left out")
    return kept


def _push_data(raw: Any, problems: list[str]) -> str | Doc:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        if "{{" not in raw:  # nothing to interpolate: it must be JSON already
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                problems.append(f"pushData: not valid JSON ({exc}): kept, its pushes will fail")
            else:
                if not isinstance(parsed, dict):
                    problems.append("pushData: JSON but not an object: kept, its pushes will fail")
        return raw
    if isinstance(raw, Mapping):
        return dict(raw)
    problems.append(f"pushData: neither a JSON string nor an object ({type(raw).__name__}): left out")
    return {}


def from_mia(doc: Mapping[str, Any]) -> Converted:
    """A Mia template document as Tidings' template document (same ``_id``), and what was left out."""
    problems: list[str] = []
    template: Doc = {"_id": doc["_id"]}
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: missing: the template is named by its id")
        name = str(doc["_id"])
    template["name"] = name
    for camel, key in _BY_CAMEL.items():
        value = doc.get(camel)
        if value is None or value == "":
            template[key] = None
        elif isinstance(value, str):
            template[key] = value
        else:
            problems.append(f"{camel}: not a string ({type(value).__name__}): left out")
            template[key] = None
    template["email_attachments"] = _attachments(doc.get("emailAttachments"), problems)
    template["push_data"] = _push_data(doc.get("pushData"), problems)
    template["syntax"] = doc.get("syntax") if doc.get("syntax") in ("jinja", "handlebars") else MIA_SYNTAX
    template["category"] = doc.get("category") or "standard"
    template["locales"] = {
        tag: {_BY_CAMEL.get(field, field): text for field, text in fields.items()}
        for tag, fields in (doc.get("locales") or {}).items()
        if isinstance(fields, Mapping)
    }
    template["version"] = int(doc.get("version") or 1)
    template["updated_by"] = doc.get("updaterId")
    template["created_at"] = doc.get("createdAt")
    template["updated_at"] = doc.get("updatedAt")
    unknown = sorted(key for key in doc if key not in _KNOWN)
    if unknown:
        problems.append(f"fields Tidings does not know, left out: {', '.join(unknown)}")
    return Converted(template, problems)


def mia_update(template: Mapping[str, Any]) -> tuple[Doc, list[str]]:
    """A Tidings template as the ``$set`` and ``$unset`` of its Mia document (CRUD fields kept).

    ``pushData`` is written as Mia types it, a JSON string (an object given to Tidings is encoded).
    """
    values: Doc = {"name": template["name"]}
    for key in TEXT_KEYS:
        values[JSON_NAMES[key]] = template.get(key) or None
    values["emailAttachments"] = list(template.get("email_attachments") or [])
    push_data = template.get("push_data")
    if isinstance(push_data, Mapping):
        values["pushData"] = json.dumps(push_data, ensure_ascii=False) if push_data else None
    else:
        values["pushData"] = push_data or None
    values["syntax"] = template.get("syntax") or MIA_SYNTAX
    values["category"] = template.get("category") or "standard"
    values["locales"] = {
        tag: {JSON_NAMES.get(key, key): text for key, text in fields.items()}
        for tag, fields in (template.get("locales") or {}).items()
    }
    values["version"] = template.get("version") or 1
    values["updaterId"] = template.get("updated_by")
    values["updatedAt"] = template.get("updated_at")
    unset = [name for name, value in values.items() if value is None]
    return {name: value for name, value in values.items() if name not in unset}, unset
