"""Waiting for something that happens elsewhere (a worker, a server, a child process): one poller for all.

``await eventually(check, timeout=20, what="the dispatch settled")`` calls ``check`` (a function, or one
returning an awaitable) until its value passes ``until`` (truthy, by default), and returns that value.
When time is up it raises an AssertionError saying what was awaited and the last value seen. An
exception raised by ``check`` itself propagates at once: a check may assert that nothing died meanwhile.
:func:`eventually_sync` is its twin for code that polls from a thread (child processes, fakes' servers).

Waiting is for effects that come on their own; a test that shows something did *not* happen calls the
background object's ``run_once()`` with an injected clock instead (see the README's Development section).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["eventually", "eventually_sync"]

T = TypeVar("T")


def _passes(value: Any, until: Callable[[Any], object] | None) -> bool:
    return bool(value) if until is None else bool(until(value))


def _timed_out(what: str, timeout: float, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float,
    what: str,
    until: Callable[[T], object] | None = None,
    interval: float = 0.05,
) -> T:
    """Poll ``check`` every ``interval`` seconds until its value passes ``until``; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if _passes(value, until):
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, value)
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T],
    *,
    timeout: float,
    what: str,
    until: Callable[[T], object] | None = None,
    interval: float = 0.05,
) -> T:
    """:func:`eventually` for a thread: blocks, polling ``check`` every ``interval`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if _passes(value, until):
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, value)
        time.sleep(interval)
