"""Message templates: sandboxed, bounded Jinja2 or Handlebars, rendered per user.

Each title or body is a template rendered with two objects, ``user`` (the user's document) and ``data``
(the request's ``data``)::

    renderer = Renderer(default_locale="it-IT")
    subject = renderer.compile("Hello, {{user.name}}!", field="emailTitle", syntax="handlebars")
    subject.render({"name": "Mario"}, {})                      # 'Hello, Mario!'

- **Syntaxes**: ``syntax="handlebars"``, rendered as Mia's Messaging Service renders it (handlebars.js 4.7
  with the handlebars-helpers library: :mod:`host.templates.rendering.handlebars`), or ``"jinja"`` (the
  default of :meth:`Renderer.compile`), in a hardened Jinja2 sandbox. :attr:`Renderer.inline_syntax` is
  the syntax of messages written in a request (the ``templateSyntax`` setting).
- **Missing values** render as nothing, however deep (``{{user.missing.deep}}``), and so does ``None``.
  In Jinja, ``x.key`` on a dict prefers the key, and ``x['key']`` only ever looks the key up.
- **Jinja functions** (:mod:`host.templates.rendering.functions`): ``dateNow()``, ``dateFormat``,
  ``formatNumber``, ``formatCurrency``, ``formatDate``, ``formatDateTime`` (Babel, in the render's
  ``locale`` or the renderer's default), ``eq ne lt gt lte gte``. Datetimes print as ISO 8601.
- **HTML** (``html=True``): interpolated values are escaped, then their newlines become ``<br/>``;
  the template's own markup is untouched, and so are values marked safe (``{{{x}}}`` in Handlebars).
- **Sandbox and limits** (:mod:`host.templates.rendering.sandbox`, :class:`RenderLimits`): no Python
  internals, files, imports or network; bounded output, value sizes, ``range()``, work and time. Every
  failure, at compile or at render, is a :class:`~host.errors.RenderError` naming the field (and line).
- **Clock**: a render sees one "now" (``dateNow``, ``year``, ``moment``), read from the renderer's clock.
- **Cache**: compiled templates are kept in an LRU keyed by (source, html, syntax).

May import: host.errors, host.settings.
"""

from __future__ import annotations

from host.templates.rendering.budget import RenderLimits
from host.templates.rendering.renderer import CompiledTemplate, Renderer, Syntax

__all__ = ["CompiledTemplate", "RenderLimits", "Renderer", "Syntax"]
