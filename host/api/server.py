"""The ASGI application for ``tidings api`` (and any ASGI server): built from the environment."""

from __future__ import annotations

from host.api.app import create_app, settle_collector_after_startup
from host.errors import ConfigurationError
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.runtime.logs import configure_logging
from host.settings import load_settings

__all__ = ["app"]

settings = load_settings()
configure_logging(settings.env)  # each of `tidings api --workers N` processes imports this module
if not settings.env.redis_url:
    raise ConfigurationError("REDIS_URL", "required by `tidings api` (the embedded mode is `tidings run`)")
app = create_app(declare_actors(create_broker(settings.env.redis_url), settings, sweep_interval=None))
settle_collector_after_startup(app)
