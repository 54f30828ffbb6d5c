"""The embedded mode (``tidings run``): development database as a child process, workers in-process.

For trying Tidings out and for tests only; production runs ``tidings api`` and ``tidings worker``
against MongoDB and Redis.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq

from host.access.unsubscribe_links import embedded_secret_key
from host.runtime.actors import Actors, declare_actors, event_loop_thread
from host.runtime.broker import create_broker
from host.settings import Settings, load_settings
from host.storage.devdb import DevDatabase

__all__ = ["DEFAULT_CONFIGURATION", "data_dir", "embedded_services"]

#: the configuration used when CONFIGURATION_PATH is not set: e-mail to a local SMTP server
DEFAULT_CONFIGURATION = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.localhost"},
}


def data_dir() -> Path:
    """Where the embedded mode keeps its files (``TIDINGS_DATA_DIR``, default ``~/.local/share/tidings``)."""
    root = os.environ.get("TIDINGS_DATA_DIR") or Path.home() / ".local" / "share" / "tidings"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def embedded_services(worker_threads: int = 4) -> Iterator[tuple[Settings, Actors, DevDatabase]]:
    """Start the development database and in-process workers; stop both on exit."""
    environ = dict(os.environ)
    if not environ.get("CONFIGURATION_PATH"):
        config_path = data_dir() / "configuration.json"
        if not config_path.exists():
            config_path.write_text(json.dumps(DEFAULT_CONFIGURATION, indent=2) + "\n")
        environ["CONFIGURATION_PATH"] = str(config_path)
    environ.setdefault("SMTP_HOST", "127.0.0.1")
    environ.setdefault("SMTP_PORT", "1025")
    environ.setdefault("TIDINGS_API_AUTH", "off")  # 127.0.0.1 only; the banner says so
    environ["TIDINGS_SECRET_KEY"] = embedded_secret_key(data_dir(), environ)  # made once, kept in data_dir
    database = DevDatabase(data_file=data_dir() / "devdb")
    database.start()
    try:
        environ["MONGODB_URL"] = database.url
        environ.pop("REDIS_URL", None)
        settings = load_settings(environ)
        broker = create_broker(None)
        dramatiq.set_broker(broker)
        actors = declare_actors(broker, settings)
        worker = dramatiq.Worker(broker, worker_threads=worker_threads)
        worker.start()
        try:
            # the in-memory queue starts empty: hand out again whatever the database says is unfinished
            event_loop_thread().run_coroutine(
                actors.worker_runtime().sweep.run_once(outbox_grace=0, queued_older_than=0)
            )
            yield settings, actors, database
        finally:
            worker.stop()
    finally:
        database.stop()
