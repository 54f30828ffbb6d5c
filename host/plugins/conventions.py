"""Small conventions every channel plugin (and the host's own HTTP clients) follows the same way.

- :func:`retry_after_seconds`: a ``Retry-After`` header (delta-seconds or an HTTP date) in seconds,
  for ``TransientChannelError(retry_after=...)``;
- :func:`masked_repr`: the ``__repr__`` of a configuration Struct that holds secrets, with them
  starred, so a configuration object printed in a log line never shows a password or a key;
- :func:`redacted_url` and :class:`UrlRedaction`: a URL with its userinfo and query values starred, and
  the logging filter that does it to every URL of a record (httpx logs each request's URL at INFO).

Third-party plugins import these from here, like the Channel protocol (host.plugins.channel).
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
import urllib.parse
from collections.abc import Collection
from typing import Any

import msgspec

__all__ = [
    "MAX_RETRY_AFTER",
    "UrlRedaction",
    "masked_fields",
    "masked_repr",
    "redact_urls",
    "redacted_url",
    "retry_after_seconds",
]

#: a provider asking for more than a day is treated as asking for a day
MAX_RETRY_AFTER = 24 * 3600.0


def retry_after_seconds(
    value: str | None, *, cap: float = MAX_RETRY_AFTER, now: float | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value (RFC 9110 §10.2.3), in [0, ``cap``]; None if absent or bad."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, seconds), cap)


def masked_fields(config: msgspec.Struct, secrets: Collection[str]) -> list[tuple[str, Any]]:
    """(field, value) pairs with the ``secrets`` fields shown as ``"***"`` when set: a ``__rich_repr__``.

    msgspec's own ``__rich_repr__`` would print them (rich, structlog's dev console).
    """
    return [
        (name, "***" if name in secrets and value is not None else value)
        for name, value in msgspec.structs.asdict(config).items()
    ]


def masked_repr(config: msgspec.Struct, secrets: Collection[str]) -> str:
    """``Name(field=value, ...)`` with the ``secrets`` fields shown as ``'***'`` when set: a ``__repr__``."""
    fields = ", ".join(f"{name}={value!r}" for name, value in masked_fields(config, secrets))
    return f"{type(config).__name__}({fields})"


_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_STARS = "***"


def redacted_url(url: str) -> str:
    """``url`` with its userinfo and every query value (and a fragment) starred; a URL that does not parse
    is starred whole. ``http://u:p@h/x?token=t`` → ``http://***@h/x?token=***``."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here, and such a URL is starred whole)
    except ValueError:
        return _STARS
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_STARS}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{key}={_STARS}" if sep else _STARS
        for key, sep, _ in (item.partition("=") for item in parts.query.split("&"))
    )
    fragment = _STARS if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query if parts.query else "", fragment))


def redact_urls(text: str) -> str:
    """Every URL in ``text`` redacted as :func:`redacted_url` does."""
    return _URL.sub(lambda found: redacted_url(found.group(0)), text) if "://" in text else text


class UrlRedaction(logging.Filter):
    """A logging filter that rewrites a record's message with every URL in it redacted.

    On a logger (``logging.getLogger("httpx").addFilter(UrlRedaction())``) every handler sees the
    redacted record; on a handler, every record it writes, whichever logger it came from.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # the message as it will be written: a URL may be split over the format and its arguments
        # ("%s://%s:%d"), so the format alone is never rewritten
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed call: logging reports it as it would have
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

    @classmethod
    def install(cls, logger: logging.Logger) -> None:
        """Add the filter to ``logger`` once."""
        if not any(isinstance(existing, cls) for existing in logger.filters):
            logger.addFilter(cls())
