"""Suppressions: e-mail addresses Tidings does not send to any more, because their mail bounced or was
reported as spam.

One document per address in ``suppressions`` (``_id``: the address in lowercase), holding its reasons and,
per reason, when and from which report (host.storage.feedback_documents):

- ``hard-bounce``: a permanent failure (5.x.x) came back for mail to it;
- ``soft-bounces``: ``bounces.softBounces.limit`` temporary failures (4.x.x) within
  ``bounces.softBounces.windowDays`` (defaults: 3 within 7 days; host.feedback.recorder counts them);
- ``complaint``: the recipient reported mail as spam (the user is also opted out of e-mail).

A delivery to a suppressed address ends ``skipped`` with the code ``suppressed``. Transactional mail (a
receipt, a password reset) is suppressed for ``hard-bounce`` and ``soft-bounces`` only: the address does
not take mail, whereas a complaint is about mail the user can decline, not what they asked for. Every check
is one ``$in`` on ``_id`` per batch: at fan-out (host.audience.planning, so suppressed users are in the
``failures`` of /send) and again at send time (host.delivery.opt_out_checks). The fan-out skips its lookups
while the list is empty (most deployments' first weeks, and every benchmark): "empty" is believed for
:data:`EMPTY_FOR_SECONDS` after it was last seen, and a suppression recorded in this process ends it at once;
one recorded by another process reaches the fan-out within that time, and the send-time check at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from host.storage.documents import utcnow
from host.storage.feedback_documents import SUPPRESSIONS_COLLECTION, SuppressionReason
from host.storage.queries import find_at_once
from host.storage.store import Store
from host.templates.fields import TRANSACTIONAL

__all__ = [
    "EMPTY_FOR_SECONDS",
    "REASONS",
    "SUPPRESSED",
    "SuppressionLookup",
    "Suppressions",
    "blocking_reasons",
    "suppressed_message",
    "suppression_key",
]

Doc = dict[str, Any]
#: the batch's addresses suppressed for the batch's mail: key (:func:`suppression_key`) → the reasons
SuppressionLookup = Callable[[Sequence[str]], Awaitable[Mapping[str, Sequence[str]]]]

#: the ``last_error.code`` of a delivery skipped because its address is suppressed
SUPPRESSED = "suppressed"
REASONS: tuple[SuppressionReason, ...] = ("hard-bounce", "soft-bounces", "complaint")
#: the reasons that also stop transactional mail: the address does not take mail at all
_UNDELIVERABLE = frozenset({"hard-bounce", "soft-bounces"})
#: how long the fan-out believes the suppression list empty before it looks again
EMPTY_FOR_SECONDS = 5.0
#: databases of this process known to hold suppressions (every Suppressions of one database shares it)
_NOT_EMPTY: set[str] = set()


def suppression_key(address: str) -> str:
    """The ``_id`` of an address's suppression: the address, trimmed and in lowercase."""
    return address.strip().lower()


def blocking_reasons(reasons: Iterable[str], category: str | None) -> list[str]:
    """The reasons that stop mail of this template category (transactional: only undeliverable ones)."""
    if category == TRANSACTIONAL:
        return [reason for reason in reasons if reason in _UNDELIVERABLE]
    return list(reasons)


def _blocking(found: Mapping[str, Sequence[str]], category: str | None) -> dict[str, list[str]]:
    """Of the reasons found by key, those that block mail of this category (keys left with none go)."""
    blocking = {key: blocking_reasons(reasons, category) for key, reasons in found.items()}
    return {key: reasons for key, reasons in blocking.items() if reasons}


def suppressed_message(reasons: Sequence[str]) -> str:
    """The failure message of a delivery skipped for a suppression."""
    return f"the address is suppressed ({', '.join(reasons)})"


class Suppressions:
    """The suppressions of one database: the service behind the API, the console and the checks."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._collection: AsyncCollection[Doc] = store.db[SUPPRESSIONS_COLLECTION]
        self._database = store.db.name
        self._clock = clock
        self._empty_since = clock() - EMPTY_FOR_SECONDS
        #: :meth:`lookup` by category, made once each (a listed send asks for one every request)
        self._lookups: dict[str | None, SuppressionLookup] = {}

    async def any(self) -> bool:
        """Whether any address may be suppressed (an empty list is believed for a few seconds)."""
        if self._database in _NOT_EMPTY:
            return True
        if self._clock() - self._empty_since < EMPTY_FOR_SECONDS:
            return False
        if await self._collection.find_one({}, {"_id": 1}) is not None:
            _NOT_EMPTY.add(self._database)
            return True
        self._empty_since = self._clock()
        return False

    async def find(self, addresses: Iterable[str]) -> dict[str, list[str]]:
        """The reasons of each suppressed one of these addresses (by key): one ``$in`` on ``_id``."""
        wanted = list(dict.fromkeys(suppression_key(address) for address in addresses))
        if not wanted:
            return {}
        found = await find_at_once(self._collection, {"_id": {"$in": wanted}}, {"reasons": 1})
        return {doc["_id"]: list(doc["reasons"]) for doc in found if doc.get("reasons")}

    def lookup(
        self,
        category: str | None,
        find: Callable[[list[str]], Awaitable[dict[str, list[str]]]] | None = None,
    ) -> SuppressionLookup:
        """The per-batch check of a dispatch of this category; ``find`` may be a grouped :meth:`find`."""
        if find is None and category in self._lookups:
            return self._lookups[category]
        ask = find or self.find

        async def lookup(addresses: Sequence[str]) -> Mapping[str, Sequence[str]]:
            if not await self.any():
                return {}
            return _blocking(await ask([suppression_key(address) for address in addresses]), category)

        if find is None:
            self._lookups[category] = lookup
        return lookup

    async def lookup_many(
        self, requests: Sequence[tuple[str | None, Sequence[str]]]
    ) -> list[dict[str, list[str]]]:
        """What :meth:`lookup` answers for each (category, addresses), all with one read (none while the
        list is believed empty): for a group of small dispatches, without a task each."""
        if not any(addresses for _, addresses in requests) or not await self.any():
            return [{} for _ in requests]
        found = await self.find(address for _, addresses in requests for address in addresses)
        return [
            _blocking({key: found[key] for key in map(suppression_key, addresses) if key in found}, category)
            for category, addresses in requests
        ]

    async def add(self, address: str, reason: SuppressionReason, detail: Doc) -> None:
        """Suppress the address for this reason (again: the latest report's details are kept)."""
        now = utcnow()
        key = suppression_key(address)
        _NOT_EMPTY.add(self._database)
        await self._collection.update_one(
            {"_id": key},
            {
                "$addToSet": {"reasons": reason},
                "$set": {f"details.{reason}": {"at": now, **detail}, "updated_at": now},
                "$setOnInsert": {"address": key, "channel": "email", "created_at": now},
            },
            upsert=True,
        )

    async def get(self, address: str) -> Doc | None:
        """One suppression, or None."""
        return await self._collection.find_one({"_id": suppression_key(address)})

    async def remove(self, address: str) -> bool:
        """Send to the address again; False if it was not suppressed."""
        result = await self._collection.delete_one({"_id": suppression_key(address)})
        return result.deleted_count > 0

    async def search(
        self,
        contains: str | None = None,
        reason: str | None = None,
        *,
        after: str | None = None,
        limit: int = 100,
    ) -> list[Doc]:
        """Suppressions by address (those containing ``contains``), of one reason, after a cursor."""
        # conditions on `_id` go in `$and`: the development database ignores `$gt` beside `$regex`
        conditions: list[Doc] = []
        if contains:
            conditions.append({"_id": {"$regex": re.escape(contains.strip().lower())}})
        if after is not None:
            conditions.append({"_id": {"$gt": after}})
        if reason:
            conditions.append({"reasons": reason})
        query: Doc = {"$and": conditions} if len(conditions) > 1 else (conditions[0] if conditions else {})
        return await self._collection.find(query).sort("_id", 1).limit(limit).to_list(None)

    async def count_by_reason(self) -> dict[str, int]:
        """How many addresses are suppressed for each reason (an address may have several)."""
        counts: dict[str, int] = dict.fromkeys(REASONS, 0)
        pipeline: list[Doc] = [{"$unwind": "$reasons"}, {"$group": {"_id": "$reasons", "n": {"$sum": 1}}}]
        async for row in await self._collection.aggregate(pipeline):
            counts[str(row["_id"])] = int(row["n"])
        return counts
