"""The background loops of a worker (recovery sweep, scheduler, event poster): one skeleton for all three.

Each loop calls one ``step`` of a domain object (``RecoverySweep.tick``, ``Scheduler.tick``,
``WebhookPoster.tick``) every ``interval`` seconds, on the worker's event loop. A step may return a
shorter pause (the scheduler, when its next dispatch is due sooner); a step that fails is logged and
tried again after the interval, so a database restart never ends a loop. The domain objects know
nothing of loops: tests call their ``run_once()`` directly, with an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["BackgroundLoop"]

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[float | None]]


class BackgroundLoop:
    """One named task on the current event loop that runs ``step`` every ``interval`` seconds."""

    def __init__(
        self,
        name: str,
        step: Step,
        interval: float,
        *,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self.interval = interval
        self._on_stop = on_stop
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task is started and not finished."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task on the running event loop, unless it already runs."""
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            pause = self.interval
            started = time.monotonic()
            try:
                asked = await self._step()
                if asked is not None:
                    pause = min(pause, max(asked, 0.0))
                log.debug("%s: a pass in %.1f ms", self.name, (time.monotonic() - started) * 1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("%s failed; trying again in %.1f s", self.name, self.interval, exc_info=True)
            await asyncio.sleep(pause)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end (idempotent); then run ``on_stop``, started or not.

        ``on_stop`` releases what the step may have opened, and a step also runs without the loop (the
        domain objects' ``run_once()``), so it runs on every stop: it must be idempotent itself.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._on_stop is not None:
            await self._on_stop()
