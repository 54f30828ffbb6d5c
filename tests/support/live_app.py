"""Tidings' ASGI application served by uvicorn on a free loopback port, in a thread: for tests that need
real concurrent HTTP requests (Litestar's test client hands them to the app one at a time)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.services import free_port
from tests.support.waiting import eventually_sync

__all__ = ["serve_app"]


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve ``app`` (its lifespan included) until the block ends; yields ``http://127.0.0.1:PORT``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"tidings-uvicorn-{port}", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        return bool(server.started)

    eventually_sync(started, timeout=30, interval=0.02, what=f"uvicorn serving Tidings on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
