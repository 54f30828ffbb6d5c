"""Background loops of a worker (recovery sweep, scheduler, webhook poster): started once, cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["BackgroundLoop"]


class BackgroundLoop:
    """One named task on the current event loop; ``start`` while it runs does nothing."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task is started and not finished."""
        return self._task is not None and not self._task.done()

    def start(self, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``run()`` as the task, unless it already runs."""
        if not self.running:
            self._task = asyncio.create_task(run(), name=self._name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
