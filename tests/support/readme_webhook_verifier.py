"""The receiver's signature check the README gives (section "Delivery events"), copied exactly.

Everything between the two marker lines is the README's code block, character for character:
tests/unit/host/events/test_webhooks.py holds the copy to the README's text, so the snippet that
receivers paste is the one the tests run.
"""

# ruff: noqa: E401, I001
from __future__ import annotations

# fmt: off
# --- README snippet ---
import hashlib, hmac, time


def verify(secret: bytes, header: str, raw_body: bytes, window: float = 300) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    if abs(time.time() - int(fields["t"])) > window:
        return False
    expected = hmac.new(secret, fields["t"].encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])
# --- end of README snippet ---
# fmt: on

__all__ = ["verify"]
