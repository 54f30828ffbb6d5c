"""Which priority lane a dispatch travels in, and the lane of a stored delivery.

An explicit ``priority`` on /send (or in a /saga/send payload) wins; a transactional template's messages
are ``high``; an audience above ``lanes.bulkAbove`` users is ``bulk``; anything else ``normal``. A
request's listed recipients are counted when it is accepted; clusters are counted by the fan-out,
which records the lane on the dispatch before it writes any of the clusters' deliveries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from host.settings import DEFAULT_LANE, LANES, Lane, LanePolicy

__all__ = ["choose_lane", "lane_of", "lanes_and_channels"]


def choose_lane(
    requested: Lane | None,
    category: str | None,
    users_known: int,
    *,
    complete: bool,
    policy: LanePolicy,
) -> Lane | None:
    """The lane of a dispatch; None while it depends on users not counted yet (``complete`` False)."""
    if requested is not None:
        return requested
    if category == "transactional":
        return "high"
    if users_known > policy.bulk_above:
        return "bulk"
    return "normal" if complete else None


def lane_of(doc: Mapping[str, Any]) -> Lane:
    """A delivery's (or dispatch's) lane; ``normal`` for one stored before lanes existed."""
    value = doc.get("priority")
    return value if value in LANES else DEFAULT_LANE


def lanes_and_channels(docs: Iterable[Mapping[str, Any]]) -> dict[Lane, dict[str, list[str]]]:
    """Delivery ids grouped by lane, then channel: how the outbox hands mixed deliveries over."""
    grouped: dict[Lane, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for doc in docs:
        grouped[lane_of(doc)][doc["channel"]].append(doc["_id"])
    return {lane: dict(by_channel) for lane, by_channel in grouped.items()}
