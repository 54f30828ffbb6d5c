"""Whether a template compiles, answered by a separate process: the API's checks never hold its event
loop, nor its GIL (a thread would: Jinja's code generation is Python, and ``compile()`` of the code it
generates holds the GIL for its whole length).

The API only needs a verdict where it checks (``/send``'s content, a template saved): the process
compiles there and answers ``None`` or ``(reason, line)``; compiled templates are made where they are
rendered (the delivery worker, the console's preview), in a worker thread. The process is spawned on
first use and serves one check at a time. A process that cannot run (or died) makes the caller fall
back to a thread (:class:`CheckUnavailable`); one that takes longer than its wall-clock allowance is
abandoned for that check (its CPU budget, measured inside, still bounds it). The process ends with the
one that started it, even when that one is killed (``kill -9``) and has no chance to stop it: it watches
its parent and exits once it is gone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["CheckPool", "CheckUnavailable", "Verdict"]

#: None (it compiles) or (reason, line) of the RenderError that refuses it
Verdict = tuple[str, int | None] | None


#: how often the checking process looks whether the process that started it is still there
PARENT_POLL_SECONDS = 1.0


def _watch_parent(parent: int) -> None:
    """In the checking process: exit as soon as ``parent`` is no longer this process's parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)  # orphaned: nobody is left to ask for a verdict

    threading.Thread(target=watch, name="tidings-parent-watch", daemon=True).start()


class CheckUnavailable(Exception):
    """The checking process could not be started or died: check in this process instead."""


class CheckPool:
    """A spawned process that runs ``verdict(*args)`` for the event loop's callers, started on first use."""

    def __init__(self, verdict: Callable[..., Verdict], *, workers: int = 1) -> None:
        self._verdict = verdict
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the API process has threads (uvicorn, the broker) a fork copies mid-state
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(
                    max_workers=self._workers,
                    mp_context=context,
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def _drop(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    async def verdict(self, *args: Any) -> Verdict:
        """The checking process's verdict (bound it with ``asyncio.timeout``); CheckUnavailable if none."""
        try:
            executor = self._pool()
            future = asyncio.get_running_loop().run_in_executor(executor, self._verdict, *args)
        except (OSError, RuntimeError, BrokenProcessPool) as exc:
            raise CheckUnavailable(str(exc)) from exc
        try:
            return await future
        except BrokenProcessPool as exc:
            self._drop(executor)
            raise CheckUnavailable(str(exc)) from exc

    def close(self) -> None:
        """Stop the process (if one was started); a later check starts another."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
