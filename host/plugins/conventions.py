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

import msgspec

__all__ = ["masked_repr", "retry_after_seconds"]


def retry_after_seconds(
    value: str | None, *, cap: float | None = None, now: float | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value, at least 0 and at most ``cap``; None if absent or bad."""
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
    seconds = max(0.0, seconds)
    return min(seconds, cap) if cap is not None else seconds


def masked_repr(config: msgspec.Struct, secrets: Collection[str]) -> str:
    """``Name(field=value, ...)`` with the fields named in ``secrets`` shown as ``'***'`` when set."""
    parts = []
    for field, value in msgspec.structs.asdict(config).items():
        shown = "***" if field in secrets and value is not None else value
        parts.append(f"{field}={shown!r}")
    return f"{type(config).__name__}({', '.join(parts)})"
