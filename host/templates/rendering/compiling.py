"""Compiling a template within a budget, off the event loop, once per source.

A probe sent a /send whose title and content were ``"{{a.b.c.d}}" * 23000``: about four seconds of CPU
compiling, on the event loop, while every other request (``/-/healthz`` included) waited. So:

- **size**: a field's source has at most ``max_source`` characters and ``max_tags`` tags (each ``{{``
  and ``{%`` counts), checked before anything is parsed: the probe is refused in microseconds;
- **time**: a compile that took more than ``compile_seconds`` of CPU is refused (CPU time of the
  compiling thread, so a busy machine does not refuse a template another one would take) if a second
  compile takes more too (a pause of the thread that was not the template's, the collector's say, must
  not refuse it for good: refusals are cached);
- **off the loop**: :meth:`Renderer.compile_async <host.templates.rendering.Renderer.compile_async>`
  compiles what is not cached yet in a worker thread (the API's checks, the template service, the
  delivery worker, the console's preview all use it);
- **cached**: :class:`CompileCache`, least recently used, keyed by (source, html, syntax), keeps the
  refusals too, so a refused template sent again costs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from host.errors import RenderError
from host.templates.rendering.budget import RenderLimits

__all__ = ["CompileCache", "budget_problem", "count_tags", "refused"]

#: (source, html, syntax)
Key = tuple[str, bool, Any]


def count_tags(source: str) -> int:
    """The template tags of a source: every ``{{`` (Handlebars and Jinja) and ``{%`` (Jinja)."""
    return source.count("{{") + source.count("{%")


def budget_problem(source: str, limits: RenderLimits) -> str | None:
    """Why ``source`` is over the compile budget's size, or None (nothing parsed: it is counted)."""
    if len(source) > limits.max_source:
        return f"template is longer than {limits.max_source} characters"
    tags = count_tags(source)
    if tags > limits.max_tags:
        return f"template has {tags} tags, more than the {limits.max_tags} allowed (each {{{{ and {{% counts)"
    return None


class CompileCache:
    """Compiled templates (or the RenderError that refused them) by (source, html, syntax); thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Key, Any] = OrderedDict()
        self._lock = threading.Lock()
        #: lookups that found an entry, and those that did not (what the cache saves, in counts)
        self.hits = 0
        self.misses = 0

    def get(self, key: Key) -> Any | None:
        """The compiled template or the RenderError kept for ``key``; None if neither."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return found

    def put(self, key: Key, value: Any) -> None:
        """Keep ``value`` (a compiled template or a RenderError), dropping the least recently used."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def refused(found: Any) -> RenderError | None:
    """The RenderError a cache entry holds, if it is a refusal."""
    return found if isinstance(found, RenderError) else None
