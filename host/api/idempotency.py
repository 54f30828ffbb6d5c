"""Idempotency keys: a request repeated with the same ``Idempotency-Key`` gets the first answer again.

An ASGI middleware on ``POST /send`` and ``POST /saga/send``, inside the API key check, whose verified
key owns the idempotency key (host.access.idempotency: two clients never share one). The key is claimed
by inserting a document whose ``_id`` is ``"<owner> <path> <key>"`` (a duplicate key means it was seen
before), holding a hash of the body in canonical JSON. The first request runs; a 2xx answer is stored on
the document and replayed verbatim to every later request with the same key and body, which sends nothing
again. The same key with another body is refused with 409, as is a repeat while the first request is
still running. A non-2xx answer releases the key, so a corrected retry can use it.

It stays hand-written: the ASGI idempotency packages are young or unmaintained (0.1 releases for
FastAPI/Starlette, asgi-idempotency-header last released in 2022) and none keeps its keys in our
database the way it has to be done here, by the same single-field insert as the delivery claims (the
development database has no transactions and uses no compound index).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import HTTPRequestEvent, HTTPResponseBodyEvent, HTTPResponseStartEvent

from host.access.idempotency import IdempotencyKeys, body_hash, owner_of
from host.errors import RequestError

__all__ = ["HEADER", "IDEMPOTENT_PATHS", "idempotency_middleware"]

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
IDEMPOTENT_PATHS = frozenset({"/send", "/saga/send"})
_MAX_KEY_LENGTH = 255

Doc = dict[str, Any]


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", ()):
        if header.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


_KEPT_HEADERS = frozenset({b"content-type"})


def idempotency_middleware(keys: Callable[[], IdempotencyKeys]) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory; ``keys`` gives the running app's keys (bound to its event loop)."""

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
            # the API key check ran first (host.api.auth) and left the verified key's prefix
            owner = owner_of((scope.get("state") or {}).get("api_key"))
            seen = await store.claim(owner, path, key, body_hash(body))
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
            await _run_and_keep(app, scope, body, receive, send, store, (owner, path, key))

        return handle

    return middleware


async def _run_and_keep(
    app: ASGIApp,
    scope: Scope,
    body: bytes,
    receive: Receive,
    send: Send,
    store: IdempotencyKeys,
    claimed: tuple[str, str, str],
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
        await store.release(*claimed)
        raise
    if 200 <= status < 300:
        await store.keep(*claimed, status, headers, b"".join(answer))
    else:
        await store.release(*claimed)
