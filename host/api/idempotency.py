"""Idempotency keys: a request repeated with the same ``Idempotency-Key`` gets the first answer again.

An ASGI middleware on ``POST /send`` and ``POST /saga/send``. The key is claimed by inserting a document
whose ``_id`` is ``"<path> <key>"`` (a duplicate key means it was seen before), holding a hash of the
body in canonical JSON. The first request runs; a 2xx answer is stored on the document and replayed
verbatim to every later request with the same key and body, which sends nothing again. The same key with
another body is refused with 409, as is a repeat while the first request is still running. A non-2xx
answer releases the key, so a corrected retry can use it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import HTTPRequestEvent, HTTPResponseBodyEvent, HTTPResponseStartEvent
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from host.errors import RequestError
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = [
    "HEADER",
    "IDEMPOTENCY_COLLECTION",
    "IDEMPOTENT_PATHS",
    "IdempotencyKeys",
    "body_hash",
    "idempotency_middleware",
]

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
IDEMPOTENCY_COLLECTION = "idempotency_keys"
IDEMPOTENT_PATHS = frozenset({"/send", "/saga/send"})
#: a key left "running" this long (its request died with its process) may be taken again
_RUNNING_LEASE = timedelta(seconds=60)
#: stored answers expire after this long (on a database that enforces TTL indexes)
_KEEP_SECONDS = 24 * 3600
_MAX_KEY_LENGTH = 255

Doc = dict[str, Any]


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

    async def claim(self, path: str, key: str, digest: str) -> Doc | None:
        """Take the key for this request: None if taken now, else the stored answer to replay.

        Raises RequestError (409) when the key was used with another body or its request is running.
        """
        if not self._indexed:
            await self._collection.create_index("created_at", expireAfterSeconds=_KEEP_SECONDS)
            self._indexed = True
        doc_id = f"{path} {key}"
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

    async def store(
        self, path: str, key: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """Keep the answer of the request that holds the key."""
        await self._collection.update_one(
            {"_id": f"{path} {key}"},
            {
                "$set": {
                    "state": "done",
                    "status": status,
                    "headers": [[name, value] for name, value in headers],
                    "body": body,
                }
            },
        )

    async def release(self, path: str, key: str) -> None:
        """Forget the key: its request did not succeed."""
        await self._collection.delete_one({"_id": f"{path} {key}", "state": "running"})


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", ()):
        if header.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


_KEPT_HEADERS = frozenset({b"content-type"})


def idempotency_middleware(current_store: Callable[[], Store]) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory; ``current_store`` gives the running app's Store (bound to its loop)."""
    bound: list[tuple[Store, IdempotencyKeys]] = []

    def keys() -> IdempotencyKeys:
        store = current_store()
        if not bound or bound[0][0] is not store:
            bound[:] = [(store, IdempotencyKeys.of(store))]
        return bound[0][1]

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            # the cheap checks first: only two routes take the header, and only by POST
            relevant = (
                scope["type"] == ScopeType.HTTP and scope.get("method") == "POST" and path in IDEMPOTENT_PATHS
            )
            key = _header(scope, HEADER) if relevant else None
            if key is None:
                await app(scope, receive, send)
                return
            if not key or len(key) > _MAX_KEY_LENGTH:
                raise RequestError(f"Idempotency-Key: must be 1 to {_MAX_KEY_LENGTH} characters")
            chunks: list[bytes] = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            store = keys()
            seen = await store.claim(path, key, body_hash(body))
            if seen is not None:
                headers = [(bytes(n), bytes(v)) for n, v in seen["headers"]]
                headers.append((b"idempotent-replayed", b"true"))
                await send(
                    HTTPResponseStartEvent(type="http.response.start", status=seen["status"], headers=headers)
                )
                await send(
                    HTTPResponseBodyEvent(
                        type="http.response.body", body=bytes(seen["body"]), more_body=False
                    )
                )
                return
            await _run_and_keep(app, scope, body, receive, send, store, path, key)

        return handle

    return middleware


async def _run_and_keep(
    app: ASGIApp,
    scope: Scope,
    body: bytes,
    receive: Receive,
    send: Send,
    store: IdempotencyKeys,
    path: str,
    key: str,
) -> None:
    replayed = False

    async def replay_body() -> ReceiveMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)
        return await receive()

    status = 0
    headers: list[tuple[bytes, bytes]] = []
    answer: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.extend(
                (bytes(n), bytes(v))
                for n, v in message.get("headers", ())
                if bytes(n).lower() in _KEPT_HEADERS
            )
        elif message["type"] == "http.response.body":
            answer.append(message.get("body", b""))
        await send(message)

    try:
        await app(scope, replay_body, keep)
    except BaseException:
        await store.release(path, key)
        raise
    if 200 <= status < 300:
        await store.store(path, key, status, headers, b"".join(answer))
    else:
        await store.release(path, key)
