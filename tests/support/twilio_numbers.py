"""Phone numbers the SMS and voice tests share with their Twilio fake."""

from __future__ import annotations

__all__ = ["INVALID", "SENDER", "TO"]

SENDER = "+15005550006"
TO = "+393331234567"
#: a number the fake answers with Twilio's 21211 (invalid 'To')
INVALID = "+15005550001"
