"""The module dramatiq worker processes import (`tidings worker`): broker and actors from the environment."""

from __future__ import annotations

import dramatiq

from host.errors import ConfigurationError
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.runtime.logs import configure_logging
from host.settings import load_settings

__all__ = ["actors", "broker"]

configure_logging()
settings = load_settings()
if not settings.env.redis_url:
    raise ConfigurationError("REDIS_URL", "required by `tidings worker` (the embedded mode is `tidings run`)")
broker = create_broker(settings.env.redis_url)
dramatiq.set_broker(broker)
actors = declare_actors(broker, settings)
