"""Scheduled sends: a dispatch stored with ``sendAt`` waits in state ``scheduled`` until its time.

Nothing about a scheduled dispatch lives in memory or in the broker: every worker process runs a
:class:`Scheduler` loop that reads the ``scheduled`` dispatches about once a second and starts the due
ones. Starting is a claim, a conditional update from ``scheduled`` to ``expanding``: of several workers
(or a cancel racing with them) exactly one wins, and only the winner hands the dispatch to the fan-out,
the same expansion path as an unscheduled cluster send. A crash between the claim and the hand-over
leaves an ``expanding`` dispatch, which the recovery sweep expands again. The same loop releases the
deliveries deferred for quiet hours whose time has come (host.dispatch.deferrals).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from host.dispatch.deferrals import Deferrals
from host.dispatch.schemas import SendAccepted
from host.errors import NotFound, RequestError
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = [
    "SCHEDULE_INTERVAL_SECONDS",
    "Scheduler",
    "cancel_scheduled",
    "parse_send_at",
    "scheduled_answer",
    "scheduled_fields",
]

log = logging.getLogger(__name__)

#: how often a worker looks for due dispatches (a scheduled send starts at most about this late)
SCHEDULE_INTERVAL_SECONDS = 1.0

Doc = dict[str, Any]


def parse_send_at(value: str | None, now: datetime | None = None) -> datetime | None:
    """The time a request's ``sendAt`` asks for, in UTC; ``None`` when absent or not in the future.

    MongoDB keeps milliseconds: the time is rounded *up* to the next one, so a dispatch never starts
    before the instant asked for.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RequestError(
            f"sendAt: {value!r} is not an ISO 8601 date and time (e.g. 2026-11-27T21:00:00+01:00)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RequestError(f"sendAt: {value!r} has no UTC offset (e.g. 2026-11-27T21:00:00+01:00 or ...Z)")
    try:
        at = parsed.astimezone(UTC)
        at += timedelta(microseconds=-at.microsecond % 1000)
    except OverflowError:
        raise RequestError(f"sendAt: {value!r} is out of range") from None
    return at if at > (now or datetime.now(UTC)) else None


def scheduled_fields(send_at: datetime | None) -> Doc:
    """The fields a new dispatch document gets when it waits for ``send_at`` (none when it does not)."""
    return {} if send_at is None else {"state": "scheduled", "send_at": send_at}


def scheduled_answer(dispatch_id: str, send_at: datetime) -> SendAccepted:
    """The answer to a scheduled send: no failures yet (they are known when it starts), and its time."""
    return SendAccepted(
        failures=[], dispatch_id=dispatch_id, send_at=send_at.isoformat(timespec="milliseconds")
    )


async def cancel_scheduled(store: Store, dispatch_id: str, *, by: str | None = None) -> Doc:
    """Cancel a dispatch that has not started; returns the dispatch as it is now.

    A dispatch already cancelled stays so (cancelling twice is harmless); one that has started (or was
    never scheduled) answers 409, and an unknown id 404.
    """
    now = utcnow()
    claimed = await store.dispatches.update_one(
        {"_id": dispatch_id, "state": "scheduled"},
        {"$set": {"state": "cancelled", "cancelled_at": now, "cancelled_by": by}},
    )
    dispatch = await store.dispatches.find_one({"_id": dispatch_id})
    if dispatch is None:
        raise NotFound(f"id: no dispatch with id {dispatch_id!r}")
    if claimed.modified_count == 1 or dispatch["state"] == "cancelled":
        if claimed.modified_count == 1:
            log.info("scheduled dispatch %s cancelled by %s", dispatch_id, by or "the API")
        return dispatch
    raise RequestError(
        f"id: dispatch {dispatch_id!r} cannot be cancelled, it has already started "
        f"(state {dispatch['state']!r})",
        status_code=409,
    )


class Scheduler:
    """Starts due scheduled dispatches, each exactly once across every worker process."""

    def __init__(
        self,
        store: Store,
        schedule_expansion: Callable[[str], None],
        deferrals: Deferrals | None = None,
    ) -> None:
        self._store = store
        self._schedule_expansion = schedule_expansion
        self._deferrals = deferrals

    async def start_due(self, now: datetime | None = None) -> tuple[list[str], datetime | None]:
        """Start every dispatch due at ``now``; returns the ids this call started and the next time due.

        The ``scheduled`` set is small (sends waiting for their time), so it is read whole on the
        single-field ``state`` index and the due ones are picked here.
        """
        now = now or datetime.now(UTC)
        waiting = await self._store.dispatches.find({"state": "scheduled"}, {"send_at": 1}).to_list(None)
        waiting.sort(key=lambda doc: doc["send_at"])
        started: list[str] = []
        for doc in waiting:
            if doc["send_at"] > now:
                return started, doc["send_at"]
            if await self._claim(doc["_id"]):
                started.append(doc["_id"])
        return started, None

    async def _claim(self, dispatch_id: str) -> bool:
        now = utcnow()
        result = await self._store.dispatches.update_one(
            {"_id": dispatch_id, "state": "scheduled"},
            {"$set": {"state": "expanding", "started_at": now, "heartbeat_at": now}},
        )
        if result.modified_count != 1:
            return False  # another worker started it, or it was cancelled
        log.info("scheduled dispatch %s started", dispatch_id)
        try:
            self._schedule_expansion(dispatch_id)
        except Exception:
            # claimed and `expanding`: the recovery sweep hands it to the fan-out once the broker is back
            log.warning(
                "scheduled dispatch %s started; its fan-out is left to the sweep", dispatch_id, exc_info=True
            )
        return True

    async def release_deferred(self, now: datetime | None = None) -> tuple[int, datetime | None]:
        """Hand deliveries deferred until ``now`` or earlier to the broker (none without deferrals)."""
        if self._deferrals is None:
            return 0, None
        return await self._deferrals.release_due(now or datetime.now(UTC))

    async def tick(self) -> float | None:
        """One pass of the periodic scheduler (host.runtime.background): how soon the next one is due."""
        _, next_start = await self.start_due()
        _, next_release = await self.release_deferred()
        due = [when for when in (next_start, next_release) if when is not None]
        if not due:
            return None
        return max((min(due) - datetime.now(UTC)).total_seconds(), 0.0) + 0.001
