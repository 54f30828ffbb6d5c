"""The login form's CSRF token: a nonce and its issue time, signed with a server-side secret.

Before a login there is no session to hold a synchronizer token, and a bare double-submit pair (the
same random value in a cookie and a form field) is forged by anyone who can set a cookie (a sibling
subdomain, a man in the middle on plain HTTP): any equal pair passed. So the field is
``<issued>.<nonce>.<HMAC-SHA256(secret, issued.nonce)>`` and the cookie holds the nonce: a submit needs
a token this server signed, for this browser's cookie, issued within ``MAX_AGE_SECONDS``.

The secret is derived from ``TIDINGS_SECRET_KEY`` when it is set (so every process of ``tidings api
--workers N`` checks the others' forms), else made at random per process (a form then expires when its
process restarts, or when another process answers the submit: set the key when running several).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

__all__ = ["MAX_AGE_SECONDS", "LoginTokens"]

#: a login form older than this must be reloaded
MAX_AGE_SECONDS = 2 * 3600
#: a token issued this far in the future (clocks of several processes) still counts
_SKEW_SECONDS = 60
_PURPOSE = b"tidings console login form"


class LoginTokens:
    """Issues and checks login form tokens under one server secret."""

    def __init__(self, secret_key: str | None) -> None:
        if secret_key:
            # a key of its own, so the unsubscribe links' key is never used twice for two purposes
            self._key = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
        else:
            self._key = secrets.token_bytes(32)

    def _mac(self, issued: str, nonce: str) -> str:
        return hmac.new(self._key, f"{issued}.{nonce}".encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> tuple[str, str]:
        """A new (form field, cookie) pair."""
        issued, nonce = str(int(time.time() if now is None else now)), secrets.token_urlsafe(24)
        return f"{issued}.{nonce}.{self._mac(issued, nonce)}", nonce

    def check(self, field: str, cookie: str, now: float | None = None) -> bool:
        """Whether the field is a fresh token this server signed, for the nonce in this cookie."""
        issued, _, rest = field.partition(".")
        nonce, _, mac = rest.rpartition(".")
        if not (issued.isascii() and issued.isdigit()) or not nonce or not cookie:
            return False
        if not hmac.compare_digest(mac, self._mac(issued, nonce)) or not hmac.compare_digest(nonce, cookie):
            return False
        age = (time.time() if now is None else now) - int(issued)
        return -_SKEW_SECONDS <= age <= MAX_AGE_SECONDS
