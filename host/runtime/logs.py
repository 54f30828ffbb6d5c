"""Logging: one line per event, as text or (``TIDINGS_LOG_FORMAT=json``) as one JSON object per line.

One line it is, whatever a client sent: the text format escapes CR, LF and every other control or
line-separator character of the message (so of its arguments: a ``/saga/send`` key holding ``\n``
cannot forge a line), and indents the lines of a traceback; the JSON format quotes them, U+2028 and
U+2029 included (which some readers take for line ends).

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
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from host.plugins.conventions import UrlRedaction, redact_urls
from host.settings import Environment, load_environment

__all__ = [
    "CONTEXT_FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "escape_controls",
    "log_context",
]

#: the fields a record may carry (``extra=``) or inherit from ``log_context``, in output order
CONTEXT_FIELDS = ("dispatch_id", "delivery_id", "delivery_ids", "channel", "saga_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: C0 and C1 controls (CR, LF, ESC ...) and the Unicode line and paragraph separators
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: a traceback's lines under the record they belong to, so none can pass for a record of its own
_CONTINUATION = "    "

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("tidings_log", default=None)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach these fields to every record logged inside the block (this task or thread only)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """``text`` with every control and line-separator character written as its escape (``\\n``)."""
    return _CONTROLS.sub(_escape, text)


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``, one line per record: the message's controls escaped, URLs redacted.

    An exception's or a stack's lines follow indented (their own controls escaped but their line ends).
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # a copy: other handlers (a test's capture) get the record as it was logged
        safe = logging.makeLogRecord(record.__dict__)
        safe.msg, safe.args = escape_controls(redact_urls(record.getMessage())), None
        head, *rest = super().format(safe).split("\n")
        return "\n".join([head, *(_CONTINUATION + escape_controls(redact_urls(line)) for line in rest)])


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, context fields, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_urls(record.getMessage()),
        }
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, context.get(name))
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact_urls(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact_urls(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(entry, default=str, ensure_ascii=False)
        return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def configure_logging(env: Environment | None = None) -> None:
    """Configure the root logger once (``TIDINGS_LOG_LEVEL``, default INFO; ``TIDINGS_LOG_FORMAT``)."""
    env = env or load_environment()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if env.log_format == "json" else TextFormatter())
    # whichever logger a line comes from, a URL in it shows no userinfo nor query values
    handler.addFilter(UrlRedaction())
    logging.basicConfig(level=env.log_level, handlers=[handler])
    # pymongo's own debug/info chatter would drown the service's lines
    logging.getLogger("pymongo").setLevel(logging.WARNING)
