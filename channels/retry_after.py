"""Read an HTTP ``Retry-After`` header (RFC 9110 §10.2.3) into seconds, for the HTTP channels."""

from __future__ import annotations

import email.utils
import time

__all__ = ["MAX_RETRY_AFTER", "parse_retry_after"]

#: a provider asking for more than a day is treated as asking for a day
MAX_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After value (delta-seconds or an HTTP date), capped at a day; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, moment.timestamp() - time.time()))
