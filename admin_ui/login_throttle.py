"""The console's login throttle: per (address, client address), counted before the password is checked.

Why per pair: a lock on the e-mail address alone lets anyone lock the owner out (five bad posts for
``admin@tidings.localhost``, repeated forever). Keyed on the pair, the client guessing waits and the owner,
from their own address, does not. Why counted first: every attempt takes one of the pair's tokens
*before* the password is verified, and counts as a failure until :meth:`LoginThrottle.succeeded`
forgets it, so twenty concurrent guesses get ``LOCKOUT_AFTER`` verifications, not thirteen.

The delays grow: ``LOCKOUT_AFTER`` failures in a row lock the pair for ``LOCKOUT_SECONDS``; after that
one attempt is allowed, and each further failure doubles the wait (up to ``MAX_LOCK_SECONDS``). A pair
quiet for ``FORGET_SECONDS`` starts afresh, and a successful login clears it. One limitation: clients
behind one address (a NAT, or a reverse proxy the server does not see through) share their pair.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from admin_ui.staff import normalise_email
from host.storage.documents import utcnow

__all__ = [
    "FAILURES_COLLECTION",
    "FORGET_SECONDS",
    "LOCKOUT_AFTER",
    "LOCKOUT_SECONDS",
    "MAX_LOCK_SECONDS",
    "LoginThrottle",
]

LOCKOUT_AFTER = 5
LOCKOUT_SECONDS = 900
MAX_LOCK_SECONDS = 24 * 3600
FORGET_SECONDS = 24 * 3600
FAILURES_COLLECTION = "console_login_failures"
#: attempts to win a contended conditional update before refusing (another attempt is winning)
_RACE_ROUNDS = 8


class LoginThrottle:
    """Login attempts per (e-mail address, client address): tokens taken before verifying, growing locks."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        lockout_after: int = LOCKOUT_AFTER,
        lockout_seconds: float = LOCKOUT_SECONDS,
        max_lock_seconds: float = MAX_LOCK_SECONDS,
        forget_seconds: float = FORGET_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._failures = db[FAILURES_COLLECTION]
        self._after = lockout_after
        self._lock = timedelta(seconds=lockout_seconds)
        self._max_lock = timedelta(seconds=max_lock_seconds)
        self._forget = timedelta(seconds=forget_seconds)
        self._clock = clock

    @staticmethod
    def key(email: str, client: str) -> str:
        """The stored key of one pair."""
        return f"{normalise_email(email)} from {client}"

    def _wait_after(self, failures: int) -> timedelta:
        """The lock that follows the ``failures``-th failure in a row (it doubles past the first)."""
        doublings = max(0, failures - self._after)
        return min(self._lock * 2 ** min(doublings, 32), self._max_lock)

    def _fresh(self, now: datetime) -> dict[str, Any]:
        """The state of a pair after its first attempt."""
        next_at = now + self._wait_after(1)
        return {"tokens": self._after - 1, "failures": 1, "next_at": next_at, "last_at": now}

    async def attempt(self, email: str, client: str) -> datetime | None:
        """Take one attempt: None if it may be verified (it counts as failed until :meth:`succeeded`).

        Otherwise the end of the pair's lock, when the next attempt will be allowed.
        """
        key = self.key(email, client)
        for _ in range(_RACE_ROUNDS):
            now, lock = self._clock(), self._lock
            # the common case, atomic: a token left and the pair not forgotten
            taken = await self._failures.find_one_and_update(
                {"_id": key, "tokens": {"$gt": 0}, "last_at": {"$gt": now - self._forget}},
                {"$inc": {"tokens": -1, "failures": 1}, "$set": {"next_at": now + lock, "last_at": now}},
                return_document=ReturnDocument.AFTER,
            )
            if taken is not None:
                return None
            doc = await self._failures.find_one({"_id": key})
            if doc is None:
                try:
                    await self._failures.insert_one({"_id": key, **self._fresh(now)})
                except DuplicateKeyError:
                    continue  # a concurrent first attempt made it: take a token from it
                return None
            stale = doc["last_at"] <= now - self._forget
            if not stale and doc["tokens"] > 0:
                continue  # a token came back between the two reads
            if not stale and doc["next_at"] > now:
                until: datetime = doc["next_at"]
                return until
            failures = 1 if stale else doc["failures"] + 1
            wait = self._wait_after(failures)
            state = self._fresh(now) if stale else {"next_at": now + wait, "last_at": now}
            state["failures"] = failures
            # the version check (failures and last_at as read) lets exactly one concurrent attempt through
            moved = await self._failures.update_one(
                {"_id": key, "failures": doc["failures"], "last_at": doc["last_at"]}, {"$set": state}
            )
            if moved.modified_count:
                return None
        return self._clock() + self._lock

    async def succeeded(self, email: str, client: str) -> None:
        """Forget the pair's failures (the attempt that just succeeded included)."""
        await self._failures.delete_one({"_id": self.key(email, client)})
