"""What a compiled Handlebars template runs with: scopes, the helpers' options object, lookups, output.

These follow handlebars.js 4.7's runtime: a property lookup only sees a value's own properties (so
``constructor`` or ``__proto__`` read as undefined, as with its default prototype-access rules); ``../``
walks the stack of *different* contexts the blocks entered; ``@`` names read the current data frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from host.templates.rendering import budget
from host.templates.rendering.handlebars import js, js_text
from host.templates.rendering.handlebars.js import UNDEFINED

__all__ = [
    "Env",
    "Helper",
    "Options",
    "Program",
    "create_frame",
    "escape_html",
    "lookup_property",
    "make_program",
    "output_text",
]

#: a helper: called with the context (JavaScript's ``this``) and its arguments, the options object last
Helper = Callable[[Any, list[Any]], Any]
#: a compiled block body: called as handlebars.js calls ``options.fn(context, {data, blockParams})``
Program = Callable[..., str]

_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#x27;",
    "`": "&#x60;",
    "=": "&#x3D;",
}
_SPECIAL = re.compile("[&<>\"'`=]")
_NEWLINES = re.compile(r"\r\n|\n\r|\r|\n")
_INDEX = re.compile(r"0|[1-9][0-9]*")
_PLAIN_VALUES = frozenset({str, int, float, bool, dict, list, type(None), js.Undefined})
_OBJECTS = frozenset({dict, list})


class Env:
    """The scope a program runs in: its context, the contexts around it, its data frame, block params."""

    __slots__ = ("data", "depths", "params", "this")

    def __init__(self, this: Any, depths: tuple[Any, ...], data: Any, params: tuple[Any, ...]) -> None:
        self.this = this
        #: depths[0] is this, depths[1] what ``../`` reads, and so on
        self.depths = depths
        #: the ``@`` variables (``@root``, ``@index``, ``@key``, …), a mapping
        self.data = data
        #: block parameters per enclosing program, innermost first (None where a program got none)
        self.params = params


class Options(dict[str, Any]):
    """The options object a helper receives last: ``hash``, ``data``, ``name``; ``fn``/``inverse`` in blocks.

    It is a mapping, as the JavaScript object is: ``create-frame`` copies its properties into data frames.
    """

    __slots__ = ()

    @property
    def hash(self) -> dict[str, Any]:
        return self["hash"]  # type: ignore[no-any-return]

    @property
    def data(self) -> Any:
        return self.get("data", UNDEFINED)

    @property
    def fn(self) -> Any:
        return self.get("fn", UNDEFINED)

    @property
    def inverse(self) -> Any:
        return self.get("inverse", UNDEFINED)


def noop(*_: Any, **__: Any) -> str:
    """``container.noop``: the missing half of a block (``fn`` of ``{{^x}}``, ``inverse`` without else)."""
    return ""


def make_program(body: Callable[[Env], str], parent: Env) -> Program:
    """``options.fn``/``options.inverse`` for a block body compiled as ``body``, entered from ``parent``."""

    def program(context: Any = UNDEFINED, data: Any = None, block_params: Any = None) -> str:
        depths = parent.depths
        outer = depths[0]
        if context is not outer and (
            (context.__class__ in _OBJECTS and outer.__class__ in _OBJECTS)  # two objects: never ==
            or not js.loose_equals(context, outer)
        ):
            depths = (context, *depths)
        env = Env(context, depths, parent.data if data is None else data, (block_params, *parent.params))
        return body(env)

    return program


def create_frame(data: Any, *extensions: Any) -> dict[str, Any]:
    """Handlebars' and create-frame's ``createFrame``: a copy of ``data`` whose ``_parent`` is ``data``."""
    frame: dict[str, Any] = dict(data) if isinstance(data, Mapping) else {}
    frame["_parent"] = data
    for extension in extensions:
        if isinstance(extension, Mapping):
            frame.update(extension)
    return frame


def lookup_property(parent: Any, name: str) -> Any:
    """``parent[name]`` if it is the parent's own property; undefined otherwise (null and undefined too)."""
    if parent.__class__ is dict:
        value = parent.get(name, UNDEFINED)
        return value if value.__class__ in _PLAIN_VALUES else js.plain(value)
    if isinstance(parent, Mapping):
        if name in parent:
            return js.plain(parent[name])
        return UNDEFINED
    if isinstance(parent, list | tuple):
        if name == "length":
            return len(parent)
        if _INDEX.fullmatch(name) and int(name) < len(parent):
            return js.plain(parent[int(name)])
        return UNDEFINED
    if isinstance(parent, str):
        if name == "length":
            return js_text.length(parent)
        if _INDEX.fullmatch(name) and int(name) < js_text.length(parent):
            return js_text.char_at(parent, int(name))
        return UNDEFINED
    if js.is_nullish(parent) or isinstance(parent, bool | int | float):
        return UNDEFINED
    return lookup_property(js.plain(parent), name) if js.plain(parent) is not parent else UNDEFINED


def output_text(value: Any) -> str:
    """What ``{{{value}}}`` prints: nothing for null and undefined, else ``String(value)``."""
    if isinstance(value, str):
        return value
    if value is None or value is UNDEFINED:
        return ""
    return js.to_string(value)


def escape_html(value: Any) -> str:
    """What ``{{value}}`` prints in an HTML body: handlebars.js' escaping, then each newline as ``<br/>``.

    The ``<br/>`` is Tidings' rule for HTML e-mail bodies (SPEC §4), also what Mia 1.7.1 does.
    """
    text = output_text(value)
    if _SPECIAL.search(text):
        text = _SPECIAL.sub(lambda found: _ESCAPES[found.group()], text)
    if "\n" in text or "\r" in text:
        text = _NEWLINES.sub("<br/>", text)
    return text


def charge(text: str) -> str:
    """Count ``text`` against the render's budget of produced text, and return it."""
    budget.charge(len(text))
    return text
