"""The one delivery lifecycle: every status a delivery can have and every move allowed between them.

A delivery is planned ``queued`` (or, when it is known to fail before anything is sent, ``skipped`` or
``failed``), claimed into ``sending``, and settled by its attempt; a provider's callback may then say
what became of a ``sent`` message, and staff may put a failed or skipped one back in the queue.
Only forward moves: ``delivered`` and ``undelivered`` are final, so a provider's report that comes late
or is replayed (Twilio's signatures carry no timestamp) cannot flip a delivery back::

    (planned) ──▶ queued ──claim──▶ sending ──▶ sent ──callback──▶ delivered | undelivered
        │           ▲                 │  ▲ └──▶ failed | skipped ──staff retry──┐
        │           └──retry later────┘  └──claimed again after the lease       │
        └──▶ skipped | failed ◀──────────────────────────────────────────────────┘ (back to queued)
    sent ──a bounce or a complaint about an e-mail (host.feedback)──▶ bounced | complained

Every writer of a delivery's status (the planner, the worker's claim, the outcome recorder, the provider
callbacks, the console's retry) asks :func:`advance` (or :func:`check`) first, so an illegal move raises
:class:`IllegalTransition` instead of silently rewriting history; writers that may legitimately meet a
stale report (a provider callback replayed after a later one) ask :func:`allowed` and ignore it.

Room rule: this module imports only host.errors, so every room may import it (storage's documents type
their status with :data:`Status`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from host.errors import TidingsError

__all__ = [
    "PLANNED",
    "RETRYABLE",
    "SETTLED",
    "STATUSES",
    "TRANSITIONS",
    "UNSETTLED",
    "IllegalTransition",
    "Status",
    "advance",
    "allowed",
    "check",
    "ready_to_attempt",
]

Status = Literal[
    "queued", "sending", "sent", "failed", "skipped", "delivered", "undelivered", "bounced", "complained"
]
STATUSES: tuple[Status, ...] = get_args(Status)

#: (from, to) → why the move happens; ``None`` as the origin is a delivery being planned
TRANSITIONS: dict[tuple[Status | None, Status], str] = {
    (None, "queued"): "planned: the user has an address on the channel",
    (None, "skipped"): "planned: unknown or soft-deleted user, no address, expired address or opted out",
    (None, "failed"): "planned: the address is invalid",
    ("queued", "sending"): "claimed by a worker (its attempt document inserted)",
    ("sending", "sending"): "claimed again: its worker died mid-send and the sending lease ran out",
    ("sending", "sent"): "the provider accepted the message",
    ("sending", "queued"): "a transient failure: tried again after a backoff",
    ("sending", "failed"): "a permanent failure, or the last attempt failed",
    ("sending", "skipped"): "the user opted out, or was soft-deleted, after the fan-out",
    ("sent", "delivered"): "the provider reported the message delivered",
    ("sent", "undelivered"): "the provider reported the message undelivered",
    ("sent", "bounced"): "a bounce came back for the e-mail (a DSN, or the e-mail provider's report)",
    ("sent", "complained"): "the recipient reported the e-mail as spam (an ARF report, or the provider's)",
    ("failed", "queued"): "retried by staff",
    ("skipped", "queued"): "retried by staff",
}

#: statuses a delivery may be planned with
PLANNED: tuple[Status, ...] = tuple(to for origin, to in TRANSITIONS if origin is None)
#: waiting for, or in, an attempt
UNSETTLED: tuple[Status, ...] = ("queued", "sending")
#: the delivery's attempts are over (a callback may still refine ``sent``)
SETTLED: tuple[Status, ...] = tuple(status for status in STATUSES if status not in UNSETTLED)
#: statuses staff may put back in the queue
RETRYABLE: tuple[Status, ...] = tuple(
    origin for origin, to in TRANSITIONS if to == "queued" and origin not in (None, "sending")
)


class IllegalTransition(TidingsError):
    """A writer tried to move a delivery along a transition the lifecycle does not have."""

    def __init__(self, current: str | None, new: str) -> None:
        origin = "a new delivery" if current is None else f"status {current!r}"
        super().__init__(f"a delivery cannot move from {origin} to {new!r}")
        self.current = current
        self.new = new


def allowed(current: str | None, new: str) -> bool:
    """Whether a delivery in ``current`` (None: not stored yet) may move to ``new``."""
    return (current, new) in TRANSITIONS


def check(current: str | None, new: str) -> None:
    """Raise IllegalTransition unless the move is in :data:`TRANSITIONS`."""
    if (current, new) not in TRANSITIONS:
        raise IllegalTransition(current, new)


def advance(delivery: MutableMapping[str, Any], new: Status) -> Status:
    """Check the move of this delivery document to ``new`` and record it on the document."""
    check(delivery.get("status"), new)
    delivery["status"] = new
    return new


def ready_to_attempt(
    docs: Sequence[dict[str, Any]], now: datetime, *, lease: timedelta
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """Of a batch handed to a worker: the deliveries to attempt now, and those handed out too early
    (by remaining delay in ms).

    A ``queued`` delivery is ready once due (``due_at``: backoff or Retry-After) and not held for quiet
    hours (``deferred_until``: its deferral hands it out at the window's end); a ``sending`` one once its
    worker's lease has run out (it died mid-send). Settled deliveries are never ready.
    """
    ready: list[dict[str, Any]] = []
    early: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        if doc["status"] == "queued":
            due = doc.get("due_at")
            held = doc.get("deferred_until")
            if held is not None and held > now:
                continue
            if due is not None and due > now:
                early[max(1, math.ceil((due - now).total_seconds() * 1000))].append(doc)
            else:
                ready.append(doc)
        elif doc["status"] == "sending" and doc["updated_at"] < now - lease:
            ready.append(doc)
    return ready, early
