"""The helpers of Handlebars templates: Handlebars' own, handlebars-helpers 0.10, Mia's and Tidings'.

:data:`HELPERS` maps each name to its function, registered in the order Mia registers them: Handlebars'
built-ins, the handlebars-helpers groups in the library's order (where two groups name the same helper the
later one wins, as the string group's ``reverse`` over the array group's), Mia's ``dateNow``,
``dateFormat`` and ``toLocale``, and Tidings' ``formatNumber``, ``formatCurrency``, ``formatDate``,
``formatDateTime`` and ``ne``.

:data:`REFUSED` names the library's helpers a template may not use, each with the reason given when one
does: those that read files (``read``, ``readdir``, ``embed``, ``md``), load from the network (``gist``,
``jsfiddle``, ``css``, ``js``), reach the process (the logging group, ``absolute``, ``resolve``,
``relative``), and the few that are not available here (Markdown, glob matching, regular expressions,
Node's URL objects, file-path helpers).
"""

from __future__ import annotations

from host.templates.rendering.handlebars.helpers.array_blocks import ARRAY_BLOCKS, COLLECTION
from host.templates.rendering.handlebars.helpers.arrays import ARRAY
from host.templates.rendering.handlebars.helpers.builtin import BUILTIN
from host.templates.rendering.handlebars.helpers.comparison import COMPARISON
from host.templates.rendering.handlebars.helpers.dates import DATE, MIA, TIDINGS
from host.templates.rendering.handlebars.helpers.markup import HTML, URL
from host.templates.rendering.handlebars.helpers.numbers import MATH, NUMBER
from host.templates.rendering.handlebars.helpers.objects import I18N, INFLECTION, MISC, OBJECT
from host.templates.rendering.handlebars.helpers.strings import STRING
from host.templates.rendering.handlebars.runtime import Helper

__all__ = ["HELPERS", "REFUSED"]

_FS = {"fileSize": NUMBER["bytes"]}  # the fs group's only helper that reads no file
_GROUPS: tuple[dict[str, Helper], ...] = (
    BUILTIN,
    ARRAY,
    ARRAY_BLOCKS,
    COLLECTION,
    COMPARISON,
    DATE,
    _FS,
    HTML,
    I18N,
    INFLECTION,
    MATH,
    MISC,
    NUMBER,
    OBJECT,
    STRING,
    URL,
    MIA,
    TIDINGS,
)

HELPERS: dict[str, Helper] = {}
for _group in _GROUPS:
    HELPERS.update(_group)

_REASONS = {
    "files": "reads files on the server",
    "network": "loads content from the network",
    "log": "writes to the server's log",
    "cwd": "reads the server's working directory",
    "internal": "is internal to Handlebars",
}
_REFUSALS = {
    "files": ("read", "readdir", "embed", "md"),
    "network": ("gist", "jsfiddle", "css", "js"),
    "log": (
        "log",
        "ok",
        "success",
        "info",
        "warning",
        "warn",
        "error",
        "danger",
        "bold",
        "_debug",
        "_inspect",
    ),
    "cwd": ("absolute", "resolve", "relative"),
    "internal": ("helperMissing", "blockHelperMissing"),
}
_UNAVAILABLE = {
    "markdown": "Markdown",
    "match": "glob matching",
    "isMatch": "glob matching",
    "mm": "glob matching",
    "toRegex": "regular expressions",
    "test": "regular expressions",
    "urlParse": "Node's URL objects",
    "dirname": "file paths",
    "basename": "file paths",
    "stem": "file paths",
    "extname": "file paths",
    "segments": "file paths",
}

REFUSED: dict[str, str] = {
    name: f"helper {name!r} is not allowed in message templates: it {_REASONS[kind]}"
    for kind, names in _REFUSALS.items()
    for name in names
}
REFUSED.update(
    {
        name: f"helper {name!r} is not available in Tidings ({what} are not supported)"
        for name, what in _UNAVAILABLE.items()
    }
)
