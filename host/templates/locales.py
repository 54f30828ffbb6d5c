"""Localised templates: per-locale variants of a template's text fields, and which one a user gets.

A template stores ``locales: {"it-IT": {"email_title": ...}, "de": {...}}`` holding only the fields
that differ from its default ones. A user's locale (``userFields.locale``) picks the variant, falling
back from ``it-IT`` to ``it`` and then to the template's default fields; tags match ignoring case and
``-``/``_``. The same locale formats dates and numbers in the render.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering import Renderer, Syntax
from host.templates.rendering.locales import parse_locale

__all__ = [
    "check_variants",
    "locale_chain",
    "normalise_tag",
    "pick_variant",
    "render_locale",
    "variant_fields",
]

Doc = dict[str, Any]


def normalise_tag(tag: str) -> str:
    """The comparable form of a locale tag: ``it_it`` and ``IT-it`` are both ``it-it``."""
    return tag.strip().replace("_", "-").lower()


def locale_chain(tag: str | None) -> list[str]:
    """The tags to try for ``tag``, most specific first: ``it-IT-x`` → ``it-it-x``, ``it-it``, ``it``."""
    if not tag or not isinstance(tag, str) or not tag.strip():
        return []
    parts = normalise_tag(tag).split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def pick_variant(variants: Iterable[str], tag: str | None) -> str | None:
    """The key of the variant for a user's locale, or None for the template's default fields."""
    by_tag = {normalise_tag(key): key for key in variants}
    for candidate in locale_chain(tag):
        if candidate in by_tag:
            return by_tag[candidate]
    return None


def render_locale(tag: Any) -> str | None:
    """The locale to format a render in: the user's, if Babel knows it; else None (the default)."""
    if not isinstance(tag, str) or not tag.strip():
        return None
    try:
        parse_locale(tag.strip())
    except RenderError:
        return None  # a stray value in a user document must not fail the delivery
    return tag.strip()


def variant_fields(template: Mapping[str, Any], variant: str | None) -> Doc:
    """The template's fields with one variant's fields laid over the default ones."""
    fields = dict(template)
    if variant is not None:
        fields.update({k: v for k, v in (template.get("locales") or {}).get(variant, {}).items() if v})
    return fields


async def check_variants(
    renderer: Renderer,
    variants: Mapping[str, Mapping[str, str | None]],
    json_names: Mapping[str, str],
    html_fields: Iterable[str],
    syntax: Syntax,
) -> None:
    """Compile every variant's fields (off the event loop); RenderError naming ``locales.<tag>.<field>``."""
    html = set(html_fields)
    for tag, fields in variants.items():
        for key, source in fields.items():
            if source is None:
                continue
            name = f"locales.{tag}.{json_names.get(key, key)}"
            await renderer.check_async(source, field=name, html=key in html, syntax=syntax)
