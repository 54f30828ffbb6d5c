"""Idempotency keys as stored: a request's key claimed by insert, its first 2xx answer kept for replays.

A key belongs to its caller (``owner``): the API key that sent it (``key:<prefix>``), so a second client
choosing the same key gets neither the first client's answer nor a 409. With API key checks off there is
no caller to tell apart (the gateway in front is the one client Tidings sees), so every key shares one
owner, ``anyone``: callers then pick keys unique across clients (UUIDs). Per client address instead
would make a retry through another gateway replica a second send. The console sends no idempotency keys.

The key of a request is claimed by inserting a document whose ``_id`` is ``"<owner> <path> <key>"`` (a
duplicate key means it was seen before), holding a hash of the body in canonical JSON. The first request
runs; a 2xx answer is stored on the document and replayed verbatim to every later request with the same
key and body. The same key with another body is refused with 409, as is a repeat while the first request
is still running. A non-2xx answer releases the key, so a corrected retry can use it. The ASGI middleware
that does this for ``/send`` and ``/saga/send`` is host.api.idempotency.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import msgspec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from host.errors import RequestError
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = ["ANYONE", "IDEMPOTENCY_COLLECTION", "IdempotencyKeys", "body_hash", "owner_of"]

IDEMPOTENCY_COLLECTION = "idempotency_keys"
#: a key left "running" this long (its request died with its process) may be taken again
_RUNNING_LEASE = timedelta(seconds=60)
#: stored answers expire after this long (on a database that enforces TTL indexes)
_KEEP_SECONDS = 24 * 3600

Doc = dict[str, Any]
#: the owner of every key when API key checks are off
ANYONE = "anyone"


def owner_of(api_key_prefix: str | None) -> str:
    """The owner of a request's keys: its verified API key's prefix, or :data:`ANYONE` without checks."""
    return f"key:{api_key_prefix}" if api_key_prefix else ANYONE


def _doc_id(owner: str, path: str, key: str) -> str:
    return f"{owner} {path} {key}"


def body_hash(body: bytes) -> str:
    """SHA-256 of the body as canonical JSON (keys sorted, no spacing); of the raw bytes if not JSON."""
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, TypeError):
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


class IdempotencyKeys:
    """The stored keys and answers of one database."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self._collection = collection
        self._indexed = False

    @classmethod
    def of(cls, store: Store) -> IdempotencyKeys:
        """The keys kept in this store's database."""
        return cls(store.db[IDEMPOTENCY_COLLECTION])

    async def claim(self, owner: str, path: str, key: str, digest: str) -> Doc | None:
        """Take the key for this request: None if taken now, else the stored answer to replay.

        Raises RequestError (409) when the key was used with another body or its request is running.
        """
        if not self._indexed:
            await self._collection.create_index("created_at", expireAfterSeconds=_KEEP_SECONDS)
            self._indexed = True
        doc_id = _doc_id(owner, path, key)
        for _ in range(2):
            try:
                await self._collection.insert_one(
                    {"_id": doc_id, "hash": digest, "state": "running", "created_at": utcnow()}
                )
                return None
            except DuplicateKeyError:
                seen = await self._collection.find_one({"_id": doc_id})
            if seen is None:
                continue  # released between our insert and read: try once more
            if seen["hash"] != digest:
                raise RequestError(f"Idempotency-Key {key!r} was already used with another request body", 409)
            if seen["state"] == "done":
                return seen
            if seen["created_at"] > utcnow() - _RUNNING_LEASE:
                raise RequestError(f"a request with Idempotency-Key {key!r} is still running", 409)
            # the first request died mid-way: release its stale claim and take the key
            await self._collection.delete_one({"_id": doc_id, "state": "running"})
        raise RequestError(f"Idempotency-Key {key!r} is contended; try again", 409)

    async def keep(
        self, owner: str, path: str, key: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """Keep the answer of the request that holds the key."""
        await self._collection.update_one(
            {"_id": _doc_id(owner, path, key)},
            {
                "$set": {
                    "state": "done",
                    "status": status,
                    "headers": [[name, value] for name, value in headers],
                    "body": body,
                }
            },
        )

    async def release(self, owner: str, path: str, key: str) -> None:
        """Forget the key: its request did not succeed."""
        await self._collection.delete_one({"_id": _doc_id(owner, path, key), "state": "running"})
