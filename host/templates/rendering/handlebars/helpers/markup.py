"""handlebars-helpers' html and url groups: ``sanitize``, ``ul``/``ol``, ``attr``, ``url_encode``, …

``encodeURI``/``url_encode`` are JavaScript's ``encodeURIComponent``; ``stripProtocol`` and ``urlResolve``
follow Node's legacy URL functions for the web addresses a message holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin

from host.errors import RenderError
from host.templates.rendering.handlebars import js, js_text
from host.templates.rendering.handlebars.helpers.conventions import (
    call,
    hash_of,
    is_string,
    property_of,
    spread,
)
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, lookup_property

__all__ = ["HTML", "URL", "strip_tags"]

_QUOTES = re.compile(r"^['\"]|[\"']$")
_PERCENT = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _attributes(hashed: Any) -> str:
    """``parseAttributes``: ``key="value"`` pairs, surrounding quotes of each value removed."""
    if not isinstance(hashed, Mapping):
        return ""
    return " ".join(f'{key}="{_QUOTES.sub("", js.to_string(value))}"' for key, value in js.items(hashed))


def attr(this: Any, args: list[Any]) -> Any:
    (options,) = spread(args, 1)
    hashed = lookup_property(options, "hash") if js.to_boolean(options) else UNDEFINED
    text = _attributes(hashed if js.to_boolean(hashed) else {})
    return " " + text if js_text.trim(text) else ""


def strip_tags(html: str) -> str:
    """The striptags package (3.2) with no tag allowed: a small state machine over the characters."""
    state = "text"
    buffer = ""
    depth = 0
    quote_char = ""
    out: list[str] = []
    for char in html:
        if state == "text":
            if char == "<":
                state, buffer = "html", buffer + char
            else:
                out.append(char)
        elif state == "html":
            if char == "<":
                if not quote_char:
                    depth += 1
            elif char == ">":
                if quote_char:
                    continue
                if depth:
                    depth -= 1
                    continue
                quote_char, state, buffer = "", "text", ""
            elif char in "\"'":
                quote_char = "" if char == quote_char else quote_char or char
                buffer += char
            elif char == "-":
                if buffer == "<!-":
                    state = "comment"
                buffer += char
            elif char in " \n":
                if buffer == "<":
                    state, buffer = "text", ""
                    out.append("< ")
                else:
                    buffer += char
            else:
                buffer += char
        elif char == ">":
            if buffer[-2:] == "--":
                state = "text"
            buffer = ""
        else:
            buffer += char
    return "".join(out)


def sanitize(this: Any, args: list[Any]) -> Any:
    (text,) = spread(args, 1)
    return js_text.trim(strip_tags(text)) if is_string(text) else ""


def _list(tag: str) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        context, options = spread(args, 2)
        if not js.is_array(context):
            raise RenderError(f"{js.kind_of(context)}.map is not a function")
        items = []
        for item in context:
            item = js.plain(item)
            text = item if isinstance(item, str) else js.to_string(call(property_of(options, "fn"), item))
            items.append(f"<li>{text}</li>")
        return f"<{tag} {_attributes(hash_of(options))}>" + "\n".join(items) + f"</{tag}>"

    return helper


def thumbnail_image(this: Any, args: list[Any]) -> Any:
    (context,) = spread(args, 1)
    link = property_of(context, "full")
    link = link if js.to_boolean(link) else False
    size = property_of(context, "size")
    image = {
        "alt": property_of(context, "alt"),
        "src": property_of(context, "thumbnail"),
        "width": property_of(size, "width"),
        "height": property_of(size, "height"),
    }
    figure_attributes = {"id": "image-" + js.to_string(property_of(context, "id"))}
    link_attributes = {"href": link, "rel": "thumbnail"}
    classes = property_of(context, "classes")
    if js.to_boolean(classes):
        for key, target in (("image", image), ("figure", figure_attributes), ("link", link_attributes)):
            names = property_of(classes, key)
            if js.to_boolean(names):
                target["class"] = " ".join(js.to_string(name) for name in names) if js.is_array(names) else ""
    tag = "<img " + _attributes(image) + ">\n"
    figure = "<figure " + _attributes(figure_attributes) + ">\n"
    figure += ("<a " + _attributes(link_attributes) + ">\n" + tag + "</a>\n") if link else tag
    caption = property_of(context, "caption")
    if js.to_boolean(caption):
        figure += "<figcaption>" + js.to_string(caption) + "</figcaption>\n"
    return figure + "</figure>"


HTML: dict[str, Helper] = {
    "attr": attr,
    "sanitize": sanitize,
    "ul": _list("ul"),
    "ol": _list("ol"),
    "thumbnailImage": thumbnail_image,
}


def _encode(text: str) -> str:
    """``encodeURIComponent``: UTF-8 percent-encoding of all but ``A-Z a-z 0-9 - _ . ! ~ * ' ( )``."""
    try:
        return quote(text, safe="-_.!~*'()", encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        raise RenderError("URI malformed") from None


def _decode(text: str) -> str:
    """``decodeURIComponent``: %XX sequences back to UTF-8 text; "URI malformed" for a broken one."""
    if "%" in re.sub(r"%[0-9A-Fa-f]{2}", "", text):
        raise RenderError("URI malformed")

    def decoded(found: re.Match[str]) -> str:
        data = bytes.fromhex(found.group().replace("%", ""))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RenderError("URI malformed") from None

    return _PERCENT.sub(decoded, text)


def _on_string(function: Any) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        (text,) = spread(args, 1)
        return function(text) if is_string(text) else UNDEFINED

    return helper


def strip_protocol(text: str) -> str:
    """Node's ``url.parse(text)`` with the protocol removed, formatted again (the host lower-cased)."""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return text
    rest = text[scheme.end() :]
    if rest.startswith("//"):
        end = next((i for i, char in enumerate(rest[2:], 2) if char in "/?#"), len(rest))
        return "//" + rest[2:end].lower() + rest[end:]
    return rest


def url_resolve(this: Any, args: list[Any]) -> Any:
    base, href = spread(args, 2)
    if not isinstance(base, str) or not isinstance(href, str):
        raise RenderError('the "url" argument must be of type string')
    return urljoin(base, href)


URL: dict[str, Helper] = {
    "encodeURI": _on_string(_encode),
    "escape": _on_string(_encode),
    "decodeURI": _on_string(_decode),
    "url_encode": _on_string(_encode),
    "url_decode": _on_string(_decode),
    "urlResolve": url_resolve,
    "stripQuerystring": _on_string(lambda text: text.split("?")[0]),
    "stripProtocol": _on_string(strip_protocol),
}
