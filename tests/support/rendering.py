"""Rendering one template source for one user, as the rendering tests write it."""

from __future__ import annotations

from typing import Any

from host.templates.rendering import Renderer

__all__ = ["render"]


def render(
    renderer: Renderer,
    source: str,
    user: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    locale = options.pop("locale", None)
    template = renderer.compile(source, field="body", **options)
    return template.render(user or {}, data or {}, locale=locale)
