"""Locales of a render: the per-render choice, or the renderer's default, parsed once by Babel."""

from __future__ import annotations

import functools

from babel import Locale, UnknownLocaleError

from host.errors import RenderError
from host.templates.rendering import budget

__all__ = ["current_locale", "parse_locale"]


@functools.lru_cache(maxsize=128)
def parse_locale(tag: str) -> Locale:
    """The Babel locale for a BCP 47 tag such as ``it-IT`` (``it_IT`` works too)."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise RenderError(f"unknown locale {tag!r}") from exc


def current_locale(tag: str | None = None) -> Locale:
    """``tag`` if given, else the locale of the render in progress (``en-US`` outside a render)."""
    if tag is None:
        state = budget.active_state()
        tag = state.locale if state is not None else "en-US"
    if not isinstance(tag, str):
        raise RenderError(f"a locale must be a string such as 'it-IT', not {type(tag).__name__}")
    return parse_locale(tag)
