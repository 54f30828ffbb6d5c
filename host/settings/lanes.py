"""Priority lanes: the three lanes a delivery travels in, the ``lanes`` key, and which lane a dispatch takes.

``high`` (one-time passcodes, receipts: transactional templates by default), ``normal``, and ``bulk``
(newsletters: audiences above ``lanes.bulkAbove`` users by default). An explicit ``priority`` on /send
wins (:meth:`LanePolicy.choose`). Each channel has one broker queue per lane; a worker process keeps
``lanes.reservedThreads`` of its threads for ``high`` alone (host.runtime.lanes), and a rate-limited
channel serves ``high`` first (host.delivery.rate_limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

import msgspec

__all__ = ["DEFAULT_LANE", "LANES", "Lane", "LanePolicy", "lane_of"]

Lane = Literal["high", "normal", "bulk"]
#: in the order they are served
LANES: tuple[Lane, ...] = get_args(Lane)
#: the lane of a delivery that names none (written before lanes existed)
DEFAULT_LANE: Lane = "normal"


class LanePolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``lanes``: which dispatches default to ``bulk``, and the worker threads kept for ``high``."""

    #: a dispatch reaching more users than this defaults to ``bulk`` (an explicit ``priority`` wins)
    bulk_above: int = 1000
    #: threads of each worker process that only ``high`` may use; ``None``: a quarter, at least one
    reserved_threads: int | None = None

    def reserved(self, threads: int) -> int:
        """The threads kept for ``high`` in a process of ``threads`` worker threads."""
        if self.reserved_threads is not None:
            return self.reserved_threads
        return max(1, threads // 4)

    def choose(
        self, requested: Lane | None, category: str | None, users_known: int, *, complete: bool
    ) -> Lane | None:
        """The lane of a dispatch; None while it depends on users not counted yet (``complete`` False).

        Asked for wins; a transactional template is ``high``; more than ``bulk_above`` users (those
        counted so far are enough) is ``bulk``; else ``normal``.
        """
        if requested is not None:
            return requested
        if category == "transactional":
            return "high"
        if users_known > self.bulk_above:
            return "bulk"
        return "normal" if complete else None


def lane_of(doc: Mapping[str, Any]) -> Lane:
    """A stored delivery's (or dispatch's) lane; ``normal`` for one stored before lanes existed."""
    value = doc.get("priority")
    return value if value in LANES else DEFAULT_LANE
