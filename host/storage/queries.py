"""Query shapes shared by the services: a name search with a resume point, on one field."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["name_query"]


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
