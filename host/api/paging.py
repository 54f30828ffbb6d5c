"""Pagination shared by the resource APIs: a bounded ``limit`` and opaque ``after`` cursors on ``_id``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from bson import ObjectId
from litestar.params import QueryParameter

from host.errors import RequestError

__all__ = ["Limit", "decode_cursor", "encode_cursor", "name_query", "next_cursor"]

#: how many items a page holds: 100 unless the client asks, at most 1,000
Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="items per page (1-1000)")]

# `_id` values may be ObjectIds (written by MongoDB) or strings (chosen by us): a cursor keeps the type,
# because MongoDB compares values of one BSON type only (`{$gt: "abc"}` never matches an ObjectId)
_OBJECT_ID, _STRING = "o:", "s:"


def encode_cursor(value: Any) -> str:
    """The ``after`` cursor that resumes after the item with this ``_id``."""
    if isinstance(value, ObjectId):
        return _OBJECT_ID + str(value)
    return _STRING + str(value)


def decode_cursor(cursor: str) -> Any:
    """The ``_id`` an ``after`` cursor stands for; 400 naming ``after`` if it was not made by us."""
    if cursor.startswith(_OBJECT_ID) and ObjectId.is_valid(cursor[2:]):
        return ObjectId(cursor[2:])
    if cursor.startswith(_STRING):
        return cursor[2:]
    raise RequestError(f"after: {cursor!r} is not a cursor returned by this API (use nextAfter)")


def next_cursor(docs: list[dict[str, Any]], limit: int) -> str | None:
    """The cursor of the next page, or None when this page is the last one."""
    return encode_cursor(docs[-1]["_id"]) if len(docs) == limit else None


def name_query(search: str | None, after: str | None) -> dict[str, Any]:
    """Documents whose ``name`` contains ``search`` (ignoring case) and sorts after ``after``."""
    # two conditions on one field go in `$and`: the development database ignores `$gt` beside `$regex`
    conditions: list[dict[str, Any]] = []
    if search:
        conditions.append({"name": {"$regex": re.escape(search), "$options": "i"}})
    if after is not None:
        conditions.append({"name": {"$gt": after}})
    if len(conditions) > 1:
        return {"$and": conditions}
    return conditions[0] if conditions else {}
