"""An application served by uvicorn on a loopback port, on its own thread, for tests that need real sockets.

Real sockets matter where the client's address does: ``client_from("127.0.0.2")`` connects from
another loopback address (Linux routes all of 127/8 to ``lo``), so one test can be several clients.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from tests.services import free_port
from tests.support.waiting import eventually_sync

__all__ = ["client_from", "serve"]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) until the block ends; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before serving")
        return bool(server.started)

    eventually_sync(started, timeout=30, interval=0.02, what="uvicorn serving the app")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def client_from(base_url: str, local_address: str, **options: Any) -> httpx.AsyncClient:
    """An async client of ``base_url`` whose connections come from ``local_address``."""
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30, **options)
