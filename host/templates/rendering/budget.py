"""Per-render limits: how much work, output and time one template render may use.

Every sandbox hook (attribute and item lookups, calls, loop iterations, intercepted operators, output)
charges the budget of the render in progress, found through a context variable so the hooks need no
extra argument and concurrent renders in other threads or tasks never share one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from host.errors import RenderError

__all__ = [
    "RenderLimits",
    "RenderState",
    "active_state",
    "charge",
    "counted",
    "ensure_small",
    "enter",
    "leave",
    "max_value",
    "tick",
    "weigh",
]


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """What one render of one field may use; going over any limit raises :class:`RenderError`."""

    #: characters of rendered output per field
    max_output: int = 256 * 1024
    #: size of any value a template builds (string length, or a container's approximate printed size)
    max_value: int = 256 * 1024
    #: characters a template source may have
    max_source: int = 256 * 1024
    #: template tags (each ``{{`` and ``{%``) a source may have: the compile budget's size
    max_tags: int = 1_000
    #: CPU seconds compiling one source may take: the compile budget's time
    compile_seconds: float = 1.0
    #: items ``range()`` may produce
    max_range: int = 10_000
    #: sandbox operations (lookups, calls, loop iterations) per render
    max_work: int = 500_000
    #: characters produced along the way, including text captured by ``set`` blocks and macros
    max_produced: int = 1024 * 1024
    #: bits of an integer computed by ``*`` or ``**``
    max_int_bits: int = 4096
    #: wall-clock seconds per render
    time_limit: float = 0.5


@dataclass(slots=True)
class RenderState:
    """The budget spent so far by the render in progress, and the locale it formats with."""

    limits: RenderLimits
    locale: str
    timezone: str
    #: what the render's date helpers read as "now": one instant, read from the renderer's clock
    now: datetime | None = None
    deadline: float = 0.0
    work: int = 0
    produced: int = 0

    def __post_init__(self) -> None:
        self.deadline = time.perf_counter() + self.limits.time_limit


_state: ContextVar[RenderState | None] = ContextVar("tidings_render_state", default=None)


def active_state() -> RenderState | None:
    """The state of the render in progress in this context, if any."""
    return _state.get()


def enter(state: RenderState) -> object:
    """Make ``state`` the active one; returns the token :func:`leave` needs."""
    return _state.set(state)


def leave(token: object) -> None:
    """Restore the state that was active before :func:`enter`."""
    _state.reset(token)  # type: ignore[arg-type]


def tick(units: int = 1) -> None:
    """Charge ``units`` of work; raise once the work or time budget is spent."""
    state = _state.get()
    if state is None:
        return
    state.work += units
    if state.work > state.limits.max_work or time.perf_counter() > state.deadline:
        raise RenderError("render took too long")


def charge(characters: int) -> None:
    """Charge ``characters`` of produced text; raise once the render produced too much."""
    state = _state.get()
    if state is None:
        return
    state.produced += characters
    if state.produced > state.limits.max_produced:
        raise RenderError("render produced too much text")


def max_value() -> int:
    """The largest value the active render may build (the default limit outside a render)."""
    state = _state.get()
    return (state.limits if state is not None else _DEFAULT).max_value


_DEFAULT = RenderLimits()


def weigh(value: Any, limit: int) -> int:
    """Approximate printed size of ``value``, stopping as soon as it exceeds ``limit``.

    Containers are walked (each node adds at least one unit, so the walk is bounded by ``limit`` even for
    structures sharing sub-objects); the walk is charged as work.
    """
    total = 0
    visited = 0
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        visited += 1
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, range):
            total += 2 + 8 * len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        else:
            total += 16
    tick(visited)
    return total


def ensure_small(value: Any, what: str = "value") -> Any:
    """Return ``value`` unchanged if it is no larger than the active render allows, else raise."""
    limit = max_value()
    if isinstance(value, str):
        if len(value) > limit:
            raise RenderError(f"{what} is too large ({len(value)} characters, at most {limit})")
    elif isinstance(value, Mapping | list | tuple | set | frozenset) and weigh(value, limit) > limit:
        raise RenderError(f"{what} is too large (at most about {limit} characters when printed)")
    return value


def counted(iterable: Any, weight: int) -> Iterator[Any]:
    """Iterate ``iterable``, charging one unit of work and ``weight`` characters per item."""
    for item in iterable:
        tick()
        if weight:
            charge(weight)
        yield item
