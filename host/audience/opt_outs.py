"""Opt-outs: a user's choice not to be reached on a channel, stored by Tidings in ``opt_outs``.

One document per user and channel, ``_id`` ``<user id>:<channel>``, with when, how (``link``: the
unsubscribe link of an e-mail, ``console``, ``api``) and an optional reason. Every check is one ``$in``
on ``_id`` per batch (one indexed field, NOTES): at fan-out (host.audience.users) and again at send time
(host.delivery.opt_out_checks), so an opt-out recorded after a dispatch was accepted still wins.

Opt-outs do not apply to transactional mail: a template with ``category: "transactional"`` (a password
reset, a receipt) still reaches an opted-out user, and its e-mails carry no List-Unsubscribe header.

This module imports nothing from host.storage.store or host.storage.documents: host.storage.documents
lists :class:`OptOut`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

__all__ = [
    "OPTED_OUT",
    "OPT_OUTS_COLLECTION",
    "TRANSACTIONAL",
    "OptOut",
    "OptOutLookup",
    "OptOutSource",
    "find_opted_out",
    "list_opt_outs",
    "opt_out_id",
    "opt_outs_apply",
    "opted_out_message",
    "record_opt_out",
    "remove_opt_out",
]

Doc = dict[str, Any]
OptOutSource = Literal["link", "console", "api"]
#: the opt-out ids (``<user id>:<channel>``) recorded among a batch of user ids (host.delivery.opt_out_checks)
OptOutLookup = Callable[[Sequence[str]], Awaitable[Container[str]]]

OPT_OUTS_COLLECTION = "opt_outs"
#: the ``last_error.code`` of a delivery skipped because its user opted out
OPTED_OUT = "opted-out"
#: the template category that opt-outs and List-Unsubscribe headers leave alone
TRANSACTIONAL = "transactional"


def _now() -> datetime:
    # host.storage.documents.utcnow, repeated: host.storage.documents imports this module (ALL_DOCUMENTS)
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class OptOut(Document):
    """A user's opt-out of one channel; ``id`` is ``<user id>:<channel>``."""

    id: str  # type: ignore[assignment]
    user_id: str
    channel: str
    at: datetime = Field(default_factory=_now)
    source: OptOutSource = "api"
    reason: str | None = None

    class Settings:
        name = OPT_OUTS_COLLECTION
        # the checks filter on `_id`; the user's list (API, console) on `user_id`
        indexes = [IndexModel([("user_id", ASCENDING)])]


def opt_out_id(user_id: str, channel: str) -> str:
    """The ``_id`` of a user's opt-out of a channel."""
    return f"{user_id}:{channel}"


def opt_outs_apply(category: str | None) -> bool:
    """Whether opt-outs (and List-Unsubscribe) apply to mail of this template category."""
    return category != TRANSACTIONAL


def opted_out_message(channel: str) -> str:
    """The failure message of a delivery skipped for an opt-out."""
    return f"the user opted out of {channel}"


def _collection(db: AsyncDatabase[Doc]) -> AsyncCollection[Doc]:
    return db[OPT_OUTS_COLLECTION]


async def find_opted_out(db: AsyncDatabase[Doc], ids: Iterable[str]) -> frozenset[str]:
    """Which of these opt-out ids (:func:`opt_out_id`) are recorded: one ``$in`` on ``_id``."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return frozenset()
    found = _collection(db).find({"_id": {"$in": wanted}}, {"_id": 1})
    return frozenset([doc["_id"] async for doc in found])


async def record_opt_out(
    db: AsyncDatabase[Doc],
    user_id: str,
    channel: str,
    source: OptOutSource,
    reason: str | None = None,
) -> Doc:
    """Opt the user out of the channel (again: the latest time, source and reason are kept)."""
    doc: Doc = {
        "_id": opt_out_id(user_id, channel),
        "user_id": user_id,
        "channel": channel,
        "at": _now(),
        "source": source,
        "reason": reason,
    }
    await _collection(db).replace_one({"_id": doc["_id"]}, doc, upsert=True)
    return doc


async def remove_opt_out(db: AsyncDatabase[Doc], user_id: str, channel: str) -> bool:
    """Opt the user back in; False if there was no opt-out to remove."""
    result = await _collection(db).delete_one({"_id": opt_out_id(user_id, channel)})
    return result.deleted_count > 0


async def list_opt_outs(db: AsyncDatabase[Doc], user_id: str) -> list[Doc]:
    """The user's opt-outs, by channel."""
    docs = await _collection(db).find({"user_id": user_id}).to_list(None)
    return sorted(docs, key=lambda doc: str(doc.get("channel")))
