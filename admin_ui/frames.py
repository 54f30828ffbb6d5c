"""HTML that staff look at but must not run: served in a sandboxed frame with its own headers.

Chromium gives an ``<iframe srcdoc>`` the embedding page's Content-Security-Policy, ``frame-ancestors
'none'`` included, and then refuses to paint it (NOTES, "Measured on 2026-12-01"). So the console's
HTML previews and the inbox's e-mails are served from their own URLs, framed by the console's pages
(``frame-ancestors 'self'``) and locked down by :data:`FRAME_HEADERS`: ``sandbox`` without
``allow-scripts`` or ``allow-same-origin`` (no script runs, the document has an opaque origin, so it
can reach neither the console's cookies nor its DOM), nothing fetched but inline styles and ``data:``
images, no referrer. The ``<iframe>`` elements carry ``sandbox`` as well.

A preview is kept for :data:`PREVIEW_TTL_SECONDS` under a token that only its author's session can read
(:class:`PreviewFrames`, in the console's own storage): every process of ``tidings api --workers N``
can answer the frame's request, whichever rendered it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from litestar import MediaType, Response
from pymongo.asynchronous.database import AsyncDatabase

from host.errors import NotFound
from host.storage.documents import utcnow

__all__ = ["FRAME_HEADERS", "PREVIEWS_COLLECTION", "PREVIEW_TTL_SECONDS", "PreviewFrames", "framed_html"]

PREVIEWS_COLLECTION = "console_previews"
#: how long a rendered preview can be loaded into its frame
PREVIEW_TTL_SECONDS = 15 * 60
#: expired previews are deleted every this many new ones (the TTL index may not run on the dev database)
_SWEEP_EVERY = 100

FRAME_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def framed_html(html: str) -> Response[str]:
    """``html`` as the document of a sandboxed frame of the console."""
    return Response(html, media_type=MediaType.HTML, headers=FRAME_HEADERS)


class PreviewFrames:
    """Rendered HTML previews by token, each readable by the staff member who rendered it."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._collection = db[PREVIEWS_COLLECTION]
        self._key = secrets.token_bytes(32)
        self._stored = 0

    async def ensure_indexes(self) -> None:
        """Expire previews (on MongoDB; :meth:`keep` also deletes expired ones now and then)."""
        await self._collection.create_index("expires_at", expireAfterSeconds=0)

    async def keep(self, staff: str, html: str) -> str:
        """Store one rendered preview; the token of its frame (the same for the same HTML, while kept)."""
        digest = hmac.new(self._key, f"{staff}\0{html}".encode(), hashlib.sha256).hexdigest()[:40]
        now = utcnow()
        await self._collection.update_one(
            {"_id": digest},
            {
                "$set": {
                    "staff": staff,
                    "html": html,
                    "expires_at": now + timedelta(seconds=PREVIEW_TTL_SECONDS),
                }
            },
            upsert=True,
        )
        self._stored += 1
        if self._stored % _SWEEP_EVERY == 0:
            await self._collection.delete_many({"expires_at": {"$lt": now}})
        return digest

    async def html(self, staff: str, token: str) -> str:
        """The preview behind a token; NotFound unless this staff member rendered it and it is current."""
        doc = await self._collection.find_one({"_id": token})
        if doc is None or doc.get("staff") != staff or doc["expires_at"] < utcnow():
            raise NotFound("this preview has expired: type in the editor to render it again")
        return str(doc["html"])
