"""Run an ASGI application under uvicorn on 127.0.0.1, in a background thread or in the foreground.

The HTTP fakes (Twilio, Web Push) are plain ASGI callables; this module gives them a real socket.
uvicorn (h11) on one thread serves a few thousand small requests per second on these machines.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any, Self

import uvicorn

from tests.support.waiting import eventually_sync

__all__ = ["BackgroundHttpServer", "LoopbackFake", "read_body", "respond", "serve_forever"]

# the SDKs open up to 100 pooled connections at once: keep the accept queue above that
BACKLOG = 2048


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """Read a whole ASGI request body."""
    chunks = []
    while True:
        event = await receive()
        chunks.append(event.get("body", b""))
        if not event.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Send, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
) -> None:
    """Send a whole ASGI response."""
    raw_headers = [(name.lower().encode(), value.encode()) for name, value in headers]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        backlog=BACKLOG,
        timeout_keep_alive=30,
    )


class BackgroundHttpServer:
    """An ASGI app served on a free 127.0.0.1 port by uvicorn in a daemon thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
        # and without it Nagle + delayed ACK cost 40 ms per response
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(target=self._run, name=f"fake-http-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self, timeout: float = 10.0) -> BackgroundHttpServer:
        """Start serving and wait until the socket accepts connections."""
        self._thread.start()

        def started() -> bool:
            if not self._thread.is_alive():
                raise RuntimeError(f"HTTP fake on port {self.port} did not start")
            return bool(self._server.started)

        eventually_sync(started, timeout=timeout, interval=0.01, what=f"the HTTP fake on port {self.port}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (idle keep-alive connections are closed) and free the port."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> BackgroundHttpServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LoopbackFake:
    """Base of the HTTP fakes: the subclass is the ASGI app (``__call__``), served on 127.0.0.1.

    ``start()``/``stop()`` or ``with``; ``base_url`` is where it listens once started.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BackgroundHttpServer | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.url

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        self._server = BackgroundHttpServer(self, host=self._host, port=self._port).start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(app: Any, *, host: str, port: int) -> None:
    """Serve ``app`` in the foreground until interrupted (for ``python -m tests.fakes...``)."""
    config = _config(app)
    config.host, config.port = host, port
    uvicorn.Server(config).run()
