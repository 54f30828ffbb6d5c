"""App plugins: add-ons to the application and the command line, found through ``tidings.plugins``.

An app plugin is a class registered in the ``tidings.plugins`` entry-point group of its distribution,
exactly as a channel is registered in ``tidings.channels``; Tidings' own console is one
(``console = "admin_ui.plugin:ConsolePlugin"`` in pyproject.toml), and the host never imports it. A
plugin subclasses :class:`AppPlugin` and overrides the hooks it needs; each hook is a documented no-op:

- :meth:`AppPlugin.litestar_plugins`: Litestar plugins to add to the application (routes, middleware,
  lifespans). Route handlers receive the ``Runtime`` by Litestar's dependency injection, as the
  ``runtime`` dependency the host provides; the plugin's own wiring gets it from :attr:`AppContext.runtime`.
- :meth:`AppPlugin.commands`: click commands or groups to add to the ``tidings`` command.
- :meth:`AppPlugin.on_embedded_start`: called by ``tidings run`` once its database is up.

A malformed plugin is refused when discovered, with a PluginError naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

import click

from host.errors import PluginError
from host.settings import Settings

__all__ = ["ENTRY_POINT_GROUP", "AppContext", "AppPlugin", "EmbeddedContext", "discover_app_plugins"]

ENTRY_POINT_GROUP = "tidings.plugins"


@dataclass(frozen=True)
class AppContext:
    """What the application hands its plugins."""

    settings: Settings
    #: the running application's Runtime (host.runtime.wiring), once its lifespan has started
    runtime: Callable[[], Any]


@dataclass(frozen=True)
class EmbeddedContext:
    """What ``tidings run`` tells its plugins when the embedded database is up."""

    settings: Settings
    #: the embedded database's URL and name
    mongodb_url: str
    database: str
    #: where the embedded mode serves, e.g. ``http://127.0.0.1:8000``
    base_url: str


class AppPlugin:
    """The base of app plugins: every hook does nothing unless overridden."""

    #: the plugin's name, the same as its entry point's
    name: ClassVar[str]

    def litestar_plugins(self, context: AppContext) -> Sequence[Any]:
        """Litestar plugins (``InitPluginProtocol`` instances) to add to the application."""
        return ()

    def commands(self) -> Sequence[click.Command]:
        """Commands to add to the ``tidings`` command line."""
        return ()

    def on_embedded_start(self, context: EmbeddedContext) -> None:
        """Called by ``tidings run`` after the embedded database started, before serving."""


def discover_app_plugins(points: Iterable[EntryPoint] | None = None) -> list[AppPlugin]:
    """An instance of every app plugin registered under the entry-point group, in name order."""
    found: dict[str, AppPlugin] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP) if points is None else points:
        if point.name in found:
            raise PluginError(f"two app plugins are registered as {point.name!r}")
        try:
            plugin = point.load()
        except Exception as exc:
            raise PluginError(f"app plugin {point.name!r} failed to import: {exc}") from exc
        if not (isinstance(plugin, type) and issubclass(plugin, AppPlugin)):
            raise PluginError(f"app plugin {point.name!r} must be a subclass of host.plugins.app.AppPlugin")
        if getattr(plugin, "name", None) != point.name:
            raise PluginError(f"app plugin {point.name!r} declares name {getattr(plugin, 'name', None)!r}")
        found[point.name] = plugin()
    return [found[name] for name in sorted(found)]
