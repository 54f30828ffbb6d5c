"""Live preview of a template: every field rendered in the message sandbox, errors kept per field.

Also counts SMS segments: GSM-7 (160 characters, 153 per part when concatenated, extension characters
count twice) or UCS-2 when any character is outside GSM-7 (70, 67 per part, in UTF-16 code units).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from host.errors import RenderError
from host.templates.fields import TEXT_FIELDS, LocaleVariant
from host.templates.rendering import Renderer, Syntax

__all__ = [
    "TEMPLATE_FIELDS",
    "FieldResult",
    "Preview",
    "SmsCount",
    "count_sms",
    "locales_json",
    "parse_data",
    "parse_locales",
    "render_preview",
]

#: storage key → (label, channel, is HTML), in display order (host.templates.fields)
TEMPLATE_FIELDS: dict[str, tuple[str, str, bool]] = {f.key: (f.label, f.channel, f.html) for f in TEXT_FIELDS}

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsCount:
    """Length and segments of one SMS text."""

    encoding: str
    characters: int
    units: int
    segments: int


def count_sms(text: str) -> SmsCount:
    """The encoding a phone network would use for ``text`` and how many segments it takes."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        units = sum(2 if ch in _GSM_EXTENSION else 1 for ch in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else math.ceil(units / part)
    return SmsCount(encoding=encoding, characters=len(text), units=units, segments=segments)


@dataclass
class FieldResult:
    """One field's rendered text, or its error (with the template line when known)."""

    key: str
    label: str
    channel: str
    html: bool
    text: str = ""
    error: str = ""
    line: int | None = None


@dataclass
class Preview:
    """Every non-empty field of a template rendered for one user."""

    fields: dict[str, FieldResult] = field(default_factory=dict)
    sms: SmsCount | None = None
    problem: str = ""

    def channel(self, name: str) -> list[FieldResult]:
        """The results of one channel's fields, in display order."""
        return [result for result in self.fields.values() if result.channel == name]

    @property
    def channels(self) -> list[str]:
        """The channels that have at least one field."""
        return list(dict.fromkeys(result.channel for result in self.fields.values()))


def parse_data(raw: str) -> dict[str, Any]:
    """The sample ``data`` object typed in the form; ValueError if it is not a JSON object."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"sample data: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError("sample data: must be a JSON object")
    return value


def parse_locales(raw: str) -> dict[str, dict[str, str]]:
    """The locale variants typed in the editor (camelCase JSON, as the API takes them) in storage form."""
    if not raw.strip():
        return {}
    try:
        variants = msgspec.json.decode(raw.encode(), type=dict[str, LocaleVariant])
    except msgspec.DecodeError as exc:
        raise ValueError(f"locale variants: {exc}") from None
    return {
        tag: {key: value for key, value in msgspec.structs.asdict(variant).items() if value}
        for tag, variant in variants.items()
    }


def locales_json(locales: Mapping[str, Mapping[str, str]] | None) -> str:
    """A template's stored variants as the editor shows them (camelCase JSON)."""
    if not locales:
        return ""
    variants = {tag: LocaleVariant(**fields) for tag, fields in locales.items()}
    return json.dumps(msgspec.to_builtins(variants), indent=2, ensure_ascii=False)


async def render_preview(
    renderer: Renderer,
    sources: Mapping[str, str],
    user: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    locale: str | None = None,
    syntax: Syntax = "jinja",
) -> Preview:
    """Compile (off the event loop) and render each field on its own: one field's error hides no other.

    ``syntax`` is the template's (``jinja`` or ``handlebars``), as a delivery compiles it.
    """
    preview = Preview()
    for key, (label, channel, html) in TEMPLATE_FIELDS.items():
        source = sources.get(key) or ""
        if not source:
            continue
        result = FieldResult(key=key, label=label, channel=channel, html=html)
        try:
            compiled = await renderer.compile_async(source, field=key, html=html, syntax=syntax)
            result.text = compiled.render(user, data, locale=locale)
        except RenderError as exc:
            result.error = exc.reason
            result.line = exc.line
        preview.fields[key] = result
    sms = preview.fields.get("sms_message")
    if sms is not None and not sms.error:
        preview.sms = count_sms(sms.text)
    return preview
