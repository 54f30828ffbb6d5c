"""Quiet hours at send time: a delivery due inside its user's quiet window waits for the window's end.

The worker asks just before it claims a batch (host.delivery.worker), so a dispatch started at 22:00, a
backlog draining into the night and a retry whose backoff ends at 3:00 are all held alike. ``high``
deliveries ignore quiet hours. A held delivery stays ``queued``: it is written down in
host.dispatch.deferrals (with ``due_at`` and ``deferred_until`` on the delivery) and released by the
scheduler loop at the window's end, without an attempt being spent or any broker message waiting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from host.audience.quiet_hours import QuietHoursPolicy
from host.audience.users import find_users
from host.dispatch.deferrals import Deferrals
from host.settings import ServiceConfig, lane_of
from host.storage.store import Store

__all__ = ["QuietHoursCheck"]

Doc = dict[str, Any]


class QuietHoursCheck:
    """Splits a batch into what may be sent now and what waits for its users' quiet hours to end."""

    def __init__(self, store: Store, config: ServiceConfig, deferrals: Deferrals) -> None:
        self._store = store
        self._deferrals = deferrals
        self.policy = QuietHoursPolicy(config)

    @property
    def enabled(self) -> bool:
        """Whether any delivery can be held (a service window, or users' own windows mapped)."""
        return self.policy.enabled

    async def hold_quiet(self, ready: Sequence[Doc], now: datetime) -> list[Doc]:
        """Defer the non-``high`` deliveries whose user is in quiet hours at ``now``; return the rest."""
        candidates = [doc for doc in ready if lane_of(doc) != "high"]
        if not candidates:
            return list(ready)
        users = await find_users(
            self._store, list({doc["user_id"] for doc in candidates}), self.policy.projection()
        )
        held: dict[datetime, list[Doc]] = defaultdict(list)
        for doc in candidates:
            until = self.policy.quiet_until(users.get(doc["user_id"]), doc["user_id"], now)
            if until is not None:
                held[until].append(doc)
        if not held:
            return list(ready)
        for until, docs in held.items():
            await self._deferrals.hold(docs, until, now)
        waiting = {doc["_id"] for docs in held.values() for doc in docs}
        return [doc for doc in ready if doc["_id"] not in waiting]
