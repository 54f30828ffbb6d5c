"""A compiled Handlebars template: parse, whitespace control and compilation once, then render per user."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering.handlebars.compiler import Compiler
from host.templates.rendering.handlebars.helpers import HELPERS, REFUSED
from host.templates.rendering.handlebars.parser import parse
from host.templates.rendering.handlebars.runtime import Env
from host.templates.rendering.handlebars.whitespace import apply_whitespace_control

__all__ = ["HandlebarsTemplate"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class HandlebarsTemplate:
    """One field's Handlebars source, compiled; RenderError (with the line) if it cannot be."""

    __slots__ = ("_render",)

    def __init__(self, source: str, *, html: bool) -> None:
        program = apply_whitespace_control(parse(source))
        self._render = Compiler(HELPERS, REFUSED, html=html).program(program)

    def render(self, root: Mapping[str, Any]) -> str:
        """The text for ``root`` (``{"user": …, "data": …}``), within the active render's budget."""
        try:
            text = self._render(Env(root, (root,), {"root": root}, ()))
        except RecursionError:
            raise RenderError("the template nests too deeply") from None
        if _LONE_SURROGATE.search(text):  # half of an emoji cut by a slice: as Node would encode it
            text = _LONE_SURROGATE.sub("\ufffd", text)
        return text
