"""The Tidings staff console: a Litestar plugin with server-rendered pages (Jinja2 + vendored htmx)."""

from __future__ import annotations

from admin_ui.plugin import AdminPlugin

__all__ = ["AdminPlugin"]
