"""Where opt-outs are checked: when a dispatch fans out, and again when a delivery is about to be sent.

Both checks are one ``$in`` on ``opt_outs._id`` per batch (host.audience.opt_outs). The fan-out check
marks the
deliveries ``skipped`` before they are queued, reported in ``failures`` like a missing address; the
send-time check catches an opt-out recorded after the dispatch was accepted. Transactional dispatches
(their template's ``category``, recorded on the dispatch) are checked by neither.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from typing import Any

from host.audience.opt_outs import (
    OPTED_OUT,
    OptOutLookup,
    find_opted_out,
    opt_out_id,
    opt_outs_apply,
    opted_out_message,
)
from host.delivery.outcomes import Outcome, OutcomeRecorder
from host.plugins.channel import Channel
from host.storage.store import Store

__all__ = ["SendTimeOptOuts", "fanout_opt_outs"]

Doc = dict[str, Any]
#: dispatch categories kept by a worker (a dispatch's category never changes)
_CATEGORIES_KEPT = 4096


def fanout_opt_outs(
    store: Store,
    channels: Iterable[str | tuple[str, Channel]],
    category: str | None,
    find: Callable[[list[str]], Awaitable[Container[str]]] | None = None,
) -> OptOutLookup | None:
    """The lookup a DeliveryPlanner runs per batch of users; None when opt-outs do not apply.

    ``find`` answers which opt-out ids exist; by default one query, the /send path passes a grouped one.
    """
    if not opt_outs_apply(category):
        return None
    names = [item if isinstance(item, str) else item[0] for item in channels]

    async def lookup(user_ids: Sequence[str]) -> Container[str]:
        ids = [opt_out_id(uid, name) for uid in user_ids for name in names]
        return await (find(ids) if find is not None else find_opted_out(store.db, ids))

    return lookup


class SendTimeOptOuts:
    """Settles the claimed deliveries whose user opted out since the fan-out, as ``skipped``."""

    def __init__(self, store: Store, outcomes: OutcomeRecorder) -> None:
        self._store = store
        self._outcomes = outcomes
        self._categories: OrderedDict[str, str | None] = OrderedDict()

    async def _categories_of(self, dispatch_ids: set[str]) -> dict[str, str | None]:
        missing = [dispatch_id for dispatch_id in dispatch_ids if dispatch_id not in self._categories]
        if missing:
            found = {
                doc["_id"]: doc.get("category")
                async for doc in self._store.dispatches.find({"_id": {"$in": missing}}, {"category": 1})
            }
            for dispatch_id in missing:
                self._categories[dispatch_id] = found.get(dispatch_id)
            while len(self._categories) > _CATEGORIES_KEPT:
                self._categories.popitem(last=False)
        return {dispatch_id: self._categories.get(dispatch_id) for dispatch_id in dispatch_ids}

    async def skip_opted_out(self, name: str, claimed: Sequence[Doc]) -> list[Doc]:
        """Record the opted-out ones as skipped; return the rest, still to be sent, in order."""
        categories = await self._categories_of({doc["dispatch_id"] for doc in claimed})
        checked = [doc for doc in claimed if opt_outs_apply(categories.get(doc["dispatch_id"]))]
        opted_out = await find_opted_out(
            self._store.db, (opt_out_id(doc["user_id"], name) for doc in checked)
        )
        if not opted_out:
            return list(claimed)
        skipped = [doc for doc in checked if opt_out_id(doc["user_id"], name) in opted_out]
        error = {"channel": name, "code": OPTED_OUT, "message": opted_out_message(name)}
        await self._outcomes.record(name, skipped, [Outcome("skipped", error=error) for _ in skipped])
        gone = {doc["_id"] for doc in skipped}
        return [doc for doc in claimed if doc["_id"] not in gone]
