"""The bounce listener as a process of its own (``tidings bounces``): SMTP in, the database, nothing else.

It builds a Runtime on its own event loop (the listener never enqueues anything, so its enqueue callbacks
refuse), starts the listener and the feedback loop, and runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from beanie import init_beanie

from host.errors import TidingsError
from host.runtime.wiring import Runtime
from host.settings import Lane, Settings
from host.storage.documents import ALL_DOCUMENTS
from host.storage.feedback_documents import FEEDBACK_DOCUMENTS

__all__ = ["serve_bounces"]


def _no_enqueue(channel: str, ids: list[str], delay_ms: int, lane: Lane) -> None:
    raise TidingsError("the bounce listener does not send")


def _no_expansion(dispatch_id: str) -> None:
    raise TidingsError("the bounce listener does not expand dispatches")


async def serve_bounces(settings: Settings, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Listen on ``host:port`` until interrupted; ``ready`` is told where, once listening."""
    runtime = Runtime(settings, _no_enqueue, _no_expansion)
    try:
        await init_beanie(database=runtime.store.db, document_models=[*ALL_DOCUMENTS, *FEEDBACK_DOCUMENTS])
        await runtime.feedback.ensure_indexes()
        listener = await runtime.start_bounce_listener(host, port)
        ready(f"{listener.host}:{listener.port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for name in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(name, stop.set)
        await stop.wait()
    finally:
        await runtime.close()
