"""Group commit: concurrent callers' small writes go to the database (or broker) in one call.

While one call runs, the jobs that arrive wait and then go together in the next: a lone caller is
served at once, and under load N requests cost one round trip instead of N. Each caller still waits for
the call that carries its own job, so nothing is answered before it is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Job = TypeVar("Job")
Result = TypeVar("Result")


class GroupCommit(Generic[Job, Result]):
    """Runs the jobs of concurrent callers in groups, one group at a time, through ``run``.

    ``run`` receives the jobs of a group in arrival order and returns one outcome per job (a result, or
    an exception for that job's caller only); an exception raised by ``run`` goes to every caller of the
    group. Bound to the event loop it is first used on.
    """

    def __init__(
        self,
        run: Callable[[list[Job]], Awaitable[list[Result | BaseException]]],
        *,
        size: Callable[[Job], int] = lambda _job: 1,
        max_size: int = 1000,
    ) -> None:
        self._run = run
        self._size = size
        self._max_size = max_size
        self._pending: list[tuple[Job, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def __call__(self, job: Job) -> Result:
        """Run ``job`` with whatever else arrives meanwhile; returns its own result."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = self._next_group()
                try:
                    outcomes = await self._run([job for job, _ in group])
                except asyncio.CancelledError:
                    for _, future in group + self._pending:
                        future.cancel()
                    self._pending.clear()
                    raise
                except Exception as exc:  # handed to the callers of the group, who raise it
                    outcomes = [exc] * len(group)
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():
                        continue  # its caller was cancelled
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = None

    def _next_group(self) -> list[tuple[Job, asyncio.Future[Result]]]:
        """The oldest jobs up to ``max_size`` in all (at least one job, however large)."""
        total = count = 0
        for job, _ in self._pending:
            total += self._size(job)
            if count and total > self._max_size:
                break
            count += 1
        group = self._pending[:count]
        del self._pending[:count]
        return group
