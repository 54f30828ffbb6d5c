"""The embedded mode (``tidings run``): development database as a child process, workers in-process.

For trying Tidings out and for tests only; production runs ``tidings api`` and ``tidings worker``
against MongoDB and Redis. A channel with no provider configured (no ``SMTP_*``, ``TWILIO_*`` or
``VAPID_*``/``FCM_*`` variable) has its messages captured in the inbox (host.inbox) instead of sent,
so a first run needs no SMTP server and no account anywhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq

from host.access.unsubscribe_links import embedded_secret_key
from host.plugins.capture import Capture
from host.plugins.registry import ChannelRegistry
from host.runtime.actors import Actors, declare_actors, event_loop_thread
from host.runtime.broker import create_broker
from host.settings import Settings, load_environment, load_settings
from host.storage.devdb import DevDatabase

__all__ = [
    "DEFAULT_CONFIGURATION",
    "check_channels",
    "configured_database",
    "data_dir",
    "describe_channels",
    "embedded_services",
]

log = logging.getLogger(__name__)

#: the configuration used when CONFIGURATION_PATH is not set: e-mail, captured in the inbox
DEFAULT_CONFIGURATION = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.localhost"},
}


def data_dir() -> Path:
    """Where the embedded mode keeps its files (``TIDINGS_DATA_DIR``, default ``~/.local/share/tidings``)."""
    return load_environment().data_path()


def _defaults(data: Path) -> dict[str, str]:
    """The embedded mode's defaults; a variable set in the environment wins over each."""
    config_path = data / "configuration.json"
    if not config_path.exists():
        config_path.write_text(json.dumps(DEFAULT_CONFIGURATION, indent=2) + "\n")
    return {
        "CONFIGURATION_PATH": str(config_path),
        "TIDINGS_API_AUTH": "off",  # 127.0.0.1 only; the banner says so
        "CONSOLE_SECURE_COOKIES": "false",  # served on 127.0.0.1 only, over plain HTTP
    }


@contextmanager
def configured_database() -> Iterator[tuple[str, str]]:
    """(URL, database name) of ``MONGODB_URL``, or else of the embedded database, started for the block.

    For commands run beside a deployment (``tidings apikey``, ``tidings staff``): without
    ``MONGODB_URL`` they work on the embedded mode's data, which ``tidings run`` must not be using then.
    """
    env = load_environment()
    if env.mongodb_url:
        yield env.mongodb_url, env.mongodb_database
        return
    with DevDatabase(data_file=env.data_path() / "devdb") as embedded:
        yield embedded.url, env.mongodb_database


class _NoCaptureYet:
    """Stands in for the inbox while the channels are only checked: nothing is sent then."""

    async def keep(self, capture: Capture) -> str:
        raise AssertionError("the channels were built to be checked, not to send")


def check_channels(settings: Settings) -> ChannelRegistry:
    """Build the channels as the workers will, here: a wrong setting stops start-up with its one line.

    (Built only in the worker thread, the error would be a traceback there and the start would fail
    later, naming something else.)
    """
    return ChannelRegistry.build(settings.config, settings.environ, inbox=_NoCaptureYet())


def describe_channels(registry: ChannelRegistry, settings: Settings) -> list[str]:
    """One line per active channel for the banner: captured (and what would send it) or its provider."""
    lines = []
    for name in registry:
        variable = registry.captured.get(name)
        if variable is not None:
            lines.append(f"{name}: captured in the inbox (set {variable} to send for real)")
        else:
            providers = [
                slot.name or str(getattr(slot.channel, "provider", "") or type(slot.channel).__name__)
                for slot in registry.providers(name)
            ]
            lines.append(f"{name}: sent through {', then '.join(providers)}")
    return lines


@contextmanager
def embedded_services(
    worker_threads: int = 4, bounce_port: int | None = None
) -> Iterator[tuple[Settings, Actors, DevDatabase]]:
    """Start the development database and in-process workers; stop both on exit.

    With ``bounce_port``, the bounce listener runs on the workers' event loop, on 127.0.0.1.
    """
    env = load_environment()
    data = env.data_path()
    defaults = _defaults(data)
    # made once and kept in the data directory, unless TIDINGS_SECRET_KEY is set
    defaults["TIDINGS_SECRET_KEY"] = embedded_secret_key(data, env.secret_key)
    database = DevDatabase(data_file=data / "devdb")
    database.start()
    try:
        settings = load_settings(
            defaults=defaults, overrides={"MONGODB_URL": database.url, "REDIS_URL": None}
        )
        check_channels(settings)
        broker = create_broker(None)
        dramatiq.set_broker(broker)
        actors = declare_actors(broker, settings, inbox=True)
        worker = dramatiq.Worker(broker, worker_threads=worker_threads)
        worker.start()
        try:
            # the in-memory queue starts empty: hand out again whatever the database says is unfinished
            runtime = actors.worker_runtime()
            event_loop_thread().run_coroutine(runtime.sweep.run_once(outbox_grace=0, queued_older_than=0))
            if bounce_port and runtime.bounce_mail.domain:
                try:
                    event_loop_thread().run_coroutine(runtime.start_bounce_listener("127.0.0.1", bounce_port))
                except OSError as exc:  # the port is taken (another `tidings run`): run without it
                    log.warning("bounce listener not started on 127.0.0.1:%d: %s", bounce_port, exc.strerror)
            yield settings, actors, database
        finally:
            worker.stop()
    finally:
        database.stop()
