"""Logging: one line per event, as text or (``TIDINGS_LOG_FORMAT=json``) as one JSON object per line.

Ids travel as fields: ``log.info("...", extra={"dispatch_id": ...})``, or for a whole piece of work
``with log_context(dispatch_id=..., channel=...):`` (the actors do this), and the JSON format writes
them as top-level keys. Secrets never reach a log call: settings print without their URLs, and every
URL a line holds (httpx logs each request's) is written without its userinfo and query values.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from host.plugins.conventions import UrlRedaction
from host.settings import Environment, load_environment

__all__ = ["CONTEXT_FIELDS", "JsonFormatter", "configure_logging", "log_context"]

#: the fields a record may carry (``extra=``) or inherit from ``log_context``, in output order
CONTEXT_FIELDS = ("dispatch_id", "delivery_id", "delivery_ids", "channel", "saga_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("tidings_log", default=None)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach these fields to every record logged inside the block (this task or thread only)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, context fields, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, context.get(name))
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(env: Environment | None = None) -> None:
    """Configure the root logger once (``TIDINGS_LOG_LEVEL``, default INFO; ``TIDINGS_LOG_FORMAT``)."""
    env = env or load_environment()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if env.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    # whichever logger a line comes from, a URL in it shows no userinfo nor query values
    handler.addFilter(UrlRedaction())
    logging.basicConfig(level=env.log_level, handlers=[handler])
    # pymongo's own debug/info chatter would drown the service's lines
    logging.getLogger("pymongo").setLevel(logging.WARNING)
