"""Small conventions every channel plugin (and the host's own HTTP clients) follows the same way.

- :func:`retry_after_seconds`: a ``Retry-After`` header (delta-seconds or an HTTP date) in seconds,
  for ``TransientChannelError(retry_after=...)``;
- :func:`masked_repr`: the ``__repr__`` of a configuration Struct that holds secrets, with them
  starred, so a configuration object printed in a log line never shows a password or a key.

Third-party plugins import these from here, like the Channel protocol (host.plugins.channel).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Collection
from typing import Any

import msgspec

__all__ = ["MAX_RETRY_AFTER", "masked_fields", "masked_repr", "retry_after_seconds"]

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
