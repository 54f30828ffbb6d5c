"""The inbox's storage: one document per capture, its exact bytes inline or in chunks, found by recipient.

A capture's document (``inbox``) holds what the list needs (channel, recipient, provider, summary, the
provider request, size, when) and, up to :data:`CHUNK_BYTES`, the raw bytes themselves. Bigger bytes (an
e-mail with a 15 MB attachment is about 20 MB of MIME; a MongoDB document holds 16 MB) go to
``inbox_chunks`` as documents ``<capture id>:<n>`` of at most :data:`CHUNK_BYTES`, written before the
capture's document, so a listed capture never lacks its bytes, and read back by ``_id`` (one indexed
field, NOTES). Not GridFS: its chunks are found by a filter on two fields, which the development
database answers by scanning every chunk. Past :data:`MAX_CAPTURE_BYTES` a capture is refused with a
PermanentChannelError naming the sizes: the delivery fails with that message, nothing crashes.
"""

from __future__ import annotations

import re
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from host.errors import NotFound, PermanentChannelError
from host.plugins.capture import Capture
from host.storage.documents import utcnow

__all__ = ["CHUNKS_COLLECTION", "CHUNK_BYTES", "INBOX_COLLECTION", "MAX_CAPTURE_BYTES", "Inbox"]

Doc = dict[str, Any]

INBOX_COLLECTION = "inbox"
CHUNKS_COLLECTION = "inbox_chunks"
#: raw bytes up to this size stay in the capture's own document; more are chunked
CHUNK_BYTES = 4 * 1024 * 1024
#: the largest capture kept (an SMTP server commonly refuses mail past 25-50 MB)
MAX_CAPTURE_BYTES = 50 * 1024 * 1024
#: fields a list of captures needs (not the raw bytes)
_LISTED = {"raw": 0}


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class Inbox:
    """The captures of one database: the capture sink of the embedded mode's inbox providers."""

    def __init__(
        self,
        db: AsyncDatabase[Doc],
        *,
        max_bytes: int = MAX_CAPTURE_BYTES,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._captures = db[INBOX_COLLECTION]
        self._chunks = db[CHUNKS_COLLECTION]
        self.max_bytes = max_bytes
        self.chunk_bytes = chunk_bytes

    async def ensure_indexes(self) -> None:
        """Index when each capture was taken (the list's order)."""
        await self._captures.create_index([("captured_at", DESCENDING)])

    async def keep(self, capture: Capture) -> str:
        """Store one capture and return its id; PermanentChannelError if it is too big to keep."""
        raw = capture.raw or b""
        if len(raw) > self.max_bytes:
            raise PermanentChannelError(
                f"the {capture.channel} message is {_megabytes(len(raw))}: the inbox keeps messages "
                f"of at most {_megabytes(self.max_bytes)}",
                code="too-large",
            )
        capture_id = str(ObjectId())  # ordered by time, like the list
        doc: Doc = {
            "_id": capture_id,
            "channel": capture.channel,
            "to": capture.to,
            "provider": capture.provider,
            "summary": capture.summary,
            "request": capture.request,
            "size": len(raw),
            "chunks": 0,
            "captured_at": utcnow(),
        }
        if capture.raw is not None and len(raw) <= self.chunk_bytes:
            doc["raw"] = raw
        elif capture.raw is not None:
            parts = [raw[start : start + self.chunk_bytes] for start in range(0, len(raw), self.chunk_bytes)]
            # one chunk per insert: a batch of several 4 MB documents is split by the driver anyway
            for number, part in enumerate(parts):
                await self._chunks.insert_one({"_id": f"{capture_id}:{number}", "data": part})
            doc["chunks"] = len(parts)
        await self._captures.insert_one(doc)
        return capture_id

    async def search(
        self, *, to: str = "", channel: str = "", limit: int = 50, before: str | None = None
    ) -> list[Doc]:
        """Captures newest first: ``to`` is a piece of the recipient, matched literally, ignoring case."""
        conditions: list[Doc] = []
        if to:
            conditions.append({"to": {"$regex": re.escape(to), "$options": "i"}})
        if channel:
            conditions.append({"channel": channel})
        if before:
            conditions.append({"_id": {"$lt": before}})
        query = {"$and": conditions} if len(conditions) > 1 else (conditions[0] if conditions else {})
        cursor = self._captures.find(query, _LISTED).sort("_id", DESCENDING).limit(limit)
        return await cursor.to_list(None)

    async def get(self, capture_id: str) -> Doc:
        """One capture without its bytes; NotFound if there is none."""
        doc = await self._captures.find_one({"_id": capture_id}, _LISTED)
        if doc is None:
            raise NotFound(f"id: no capture {capture_id!r} in the inbox")
        return doc

    async def raw(self, capture_id: str) -> bytes:
        """The exact bytes of a capture (the MIME of an e-mail); NotFound if there is none."""
        doc = await self._captures.find_one({"_id": capture_id}, {"raw": 1, "chunks": 1})
        if doc is None:
            raise NotFound(f"id: no capture {capture_id!r} in the inbox")
        if not doc.get("chunks"):
            return bytes(doc.get("raw") or b"")
        ids = [f"{capture_id}:{number}" for number in range(doc["chunks"])]
        chunks = await self._chunks.find({"_id": {"$in": ids}}).to_list(None)
        found = {chunk["_id"]: chunk["data"] for chunk in chunks}
        return b"".join(bytes(found[chunk_id]) for chunk_id in ids)

    async def count(self) -> int:
        """How many captures the inbox holds."""
        return await self._captures.count_documents({})

    async def clear(self) -> int:
        """Delete every capture and its chunks; how many captures there were."""
        deleted = await self._captures.delete_many({})
        await self._chunks.delete_many({})
        return deleted.deleted_count
