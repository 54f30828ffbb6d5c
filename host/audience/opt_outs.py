"""Opt-outs: a user's choice not to be reached on a channel, stored by Tidings in ``opt_outs``.

One document per user and channel, ``_id`` ``<user id>:<channel>``, with when, how (``link``: the
unsubscribe link of an e-mail, ``console``, ``api``) and an optional reason. A check is one ``$in`` on
``_id`` per batch (one indexed field, NOTES): when a dispatch is planned (:meth:`OptOuts.fanout_lookup`,
used by the planner) and again at send time (host.delivery.opt_out_checks), so an opt-out recorded after a
dispatch was accepted still wins. The fan-out actor reads a short list (at most :data:`FANOUT_SNAPSHOT`
opt-outs, of any channel) whole, once, instead (:meth:`OptOuts.fanout_lookup_once`): a cluster of a
hundred thousand users then costs the database one read of the list rather than twenty ``$in`` of 5,000
ids; an opt-out recorded while it runs is caught at send time.

Opt-outs do not apply to transactional mail: a template with ``category: "transactional"`` (a password
reset, a receipt) still reaches an opted-out user, and its e-mails carry no List-Unsubscribe header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from host.storage.documents import OPT_OUTS_COLLECTION, OptOutSource, utcnow
from host.storage.queries import find_at_once
from host.storage.store import Store
from host.templates.fields import opt_outs_apply

__all__ = [
    "FANOUT_SNAPSHOT",
    "OPTED_OUT",
    "OptOutCheck",
    "OptOutLookup",
    "OptOuts",
    "opt_out_id",
    "opted_out_message",
]

Doc = dict[str, Any]
#: the opt-out ids (``<user id>:<channel>``) recorded among a batch of user ids
OptOutLookup = Callable[[Sequence[str]], Awaitable[Container[str]]]
#: what a planner checks a batch against: a lookup of its user ids, or the whole list read once
OptOutCheck = OptOutLookup | frozenset[str]

#: the ``last_error.code`` of a delivery skipped because its user opted out
OPTED_OUT = "opted-out"
#: a fan-out reads the opt-out list whole while it holds at most this many (one batch's lookup, FANOUT_BATCH)
FANOUT_SNAPSHOT = 5000


def opt_out_id(user_id: str, channel: str) -> str:
    """The ``_id`` of a user's opt-out of a channel."""
    return f"{user_id}:{channel}"


def opted_out_message(channel: str) -> str:
    """The failure message of a delivery skipped for an opt-out."""
    return f"the user opted out of {channel}"


class OptOuts:
    """The opt-outs of one database: the service behind the API, the console and the checks."""

    def __init__(self, store: Store) -> None:
        self._collection: AsyncCollection[Doc] = store.db[OPT_OUTS_COLLECTION]

    async def find(self, ids: Iterable[str]) -> frozenset[str]:
        """Which of these opt-out ids (:func:`opt_out_id`) are recorded: one ``$in`` on ``_id``."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return frozenset()
        found = await find_at_once(self._collection, {"_id": {"$in": wanted}}, {"_id": 1})
        return frozenset([doc["_id"] for doc in found])

    def fanout_lookup(
        self,
        channels: Iterable[str],
        category: str | None,
        find: Callable[[list[str]], Awaitable[Container[str]]] | None = None,
    ) -> OptOutLookup | None:
        """The lookup a DeliveryPlanner runs per batch of users; None when opt-outs do not apply.

        ``find`` answers which opt-out ids exist; by default :meth:`find`, the /send path passes a
        grouped one (host.dispatch.writes).
        """
        if not opt_outs_apply(category):
            return None
        names = list(channels)
        ask = find or self.find

        async def lookup(user_ids: Sequence[str]) -> Container[str]:
            return await ask([opt_out_id(uid, name) for uid in user_ids for name in names])

        return lookup

    async def fanout_lookup_once(
        self, channels: Iterable[str], category: str | None, limit: int | None = None
    ) -> OptOutCheck | None:
        """:meth:`fanout_lookup` for the fan-out actor, or the whole list (its ids) read once when it holds
        at most ``limit`` (:data:`FANOUT_SNAPSHOT`) opt-outs: the planner asks whether
        ``<user id>:<channel>`` is among them, and of a list it needs no batch's ids."""
        lookup = self.fanout_lookup(channels, category)
        if lookup is None:
            return None
        limit = FANOUT_SNAPSHOT if limit is None else limit
        read = self._collection.find({}, {"_id": 1}, batch_size=limit + 1).limit(limit + 1)
        listed = frozenset([doc["_id"] async for doc in read])
        return lookup if len(listed) > limit else listed

    async def record(
        self, user_id: str, channel: str, source: OptOutSource, reason: str | None = None
    ) -> Doc:
        """Opt the user out of the channel (again: the latest time, source and reason are kept)."""
        doc: Doc = {
            "_id": opt_out_id(user_id, channel),
            "user_id": user_id,
            "channel": channel,
            "at": utcnow(),
            "source": source,
            "reason": reason,
        }
        await self._collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return doc

    async def remove(self, user_id: str, channel: str) -> bool:
        """Opt the user back in; False if there was no opt-out to remove."""
        result = await self._collection.delete_one({"_id": opt_out_id(user_id, channel)})
        return result.deleted_count > 0

    async def of_user(self, user_id: str) -> list[Doc]:
        """The user's opt-outs, by channel."""
        docs = await self._collection.find({"user_id": user_id}).to_list(None)
        return sorted(docs, key=lambda doc: str(doc.get("channel")))
