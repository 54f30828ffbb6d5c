"""What MongoDB stores: documents nested at most 100 levels deep, field names without a leading ``$``.

A client's free-form values (a dispatch's ``data``, a template's ``pushData``, a user record) are checked
before they are written, so a value the database would refuse is a 400 naming the field, not a 500.
Tidings keeps :data:`MAX_DEPTH` levels for the client, well inside MongoDB's 100 with the document
around them. The walk is iterative: a value nested thousands deep cannot exhaust the stack here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_DEPTH", "nesting_problem"]

#: levels of objects and arrays a client value may have (``{"a": [1]}`` has two)
MAX_DEPTH = 64


def nesting_problem(value: Any, field: str = "", *, field_names: bool = False) -> str | None:
    """``"<path>: <problem>"`` for a value nested too deeply or (with ``field_names``) holding a field
    name the database refuses as a user's: ``$``-prefixed, dotted, or with a NUL. None if fine."""
    pending: list[tuple[str, Any, int]] = [(field, value, 0)]
    while pending:
        path, item, depth = pending.pop()
        if isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = str(key)
                where = f"{path}.{name}" if path else name
                if field_names and (name.startswith("$") or "." in name or "\0" in name):
                    return f"{where}: a field name must not start with '$' nor hold '.' or NUL"
                children.append((where, child))
        elif isinstance(item, list):
            children = [(f"{path}[{index}]", child) for index, child in enumerate(item)]
        else:
            continue
        if depth + 1 > MAX_DEPTH:
            top = path.split(".")[0].split("[")[0] if path else field
            return f"{top or 'body'}: nested deeper than {MAX_DEPTH} levels"
        pending.extend((where, child, depth + 1) for where, child in children)
    return None
