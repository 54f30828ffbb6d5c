"""Attachment file names on the file service: one name, never a path out of ``/download/``.

A file is fetched as ``GET <FILE_SERVICE_URL>/download/<name>``: a name ``..`` made that
``GET <FILE_SERVICE_URL>`` itself (HTTP clients resolve dot segments), and a separator could reach
another folder. So a name that is ``.`` or ``..``, or holds ``/``, ``\\`` or a control character,
percent-decoded as often as it decodes (``%2e%2e``, ``%252F`` ...), is refused: by the request
(``emailAttachments``), by a template's save (``emailAttachments[i].file``) and by the fetch itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import unquote

from host.errors import RequestError

__all__ = ["attachment_name_problem", "check_attachment_names"]

_DECODINGS = 8


def attachment_name_problem(name: object) -> str | None:
    """What makes ``name`` not one file name on the file service, or None if it is one."""
    if not isinstance(name, str) or not name:
        return "is not a file name (an empty name)"
    decoded = name
    for _ in range(_DECODINGS):
        # each decoding is looked at, since a server on the way may decode once more than the last
        if decoded.strip() in (".", "..") or "/" in decoded or "\\" in decoded:
            return "is not a file name (no '.', '..' or path separators, encoded or not)"
        if any(unicodedata.category(char) == "Cc" for char in decoded):
            return "is not a file name (it holds a control character)"
        once_more = unquote(decoded)
        if once_more == decoded:
            return None
        decoded = once_more
    return "is not a file name (encoded too many times)"


def check_attachment_names(names: Sequence[object], field: str, key: str | None = None) -> None:
    """RequestError (400) naming the first path-like name: ``field[i]`` (``field[i].key`` with ``key``)."""
    for index, name in enumerate(names):
        problem = attachment_name_problem(name)
        if problem is not None:
            where = f"{field}[{index}]" + (f".{key}" if key else "")
            raise RequestError(f"{where}: {name!r} {problem}")
