"""Where a socket left to the garbage collector was made: printed beside pytest's unraisable warning.

pytest fails whichever test is running when a leaked socket is finalized (``filterwarnings = error``),
with only the socket's addresses to go on: the leak may be any earlier test's. Every ``socket.socket``
made in the test process records the frames that made it (the file and line of each, not their source:
a few microseconds a socket), and the unraisable hook prints them to stderr, which the failure report
shows under "Captured stderr". tracemalloc would say the same, at several times the suite's run time.
"""

from __future__ import annotations

import socket
import sys
import threading
import traceback
from typing import Any

import pytest

__all__ = ["origin_of"]

_FRAMES = 30  # enough to get out of a library into the code that called it
#: by id, not by weak reference: a socket in a collected cycle loses its weak references before it is
#: finalized; an id used again is written over
_made_at: dict[int, str] = {}
_init = socket.socket.__init__


def _recording_init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    callers = traceback.walk_stack(sys._getframe(1))
    frames = traceback.StackSummary.extract(callers, limit=_FRAMES, lookup_lines=False)
    where = f"thread {threading.current_thread().name}: " + " <- ".join(
        f"{frame.filename.rpartition('site-packages/')[2]}:{frame.lineno} {frame.name}" for frame in frames
    )
    _made_at[id(self)] = where


def origin_of(sock: object) -> str | None:
    """Where ``sock`` was made, if it was made in this process since the plugin was loaded."""
    return _made_at.get(id(sock))


@pytest.hookimpl(trylast=True)  # after pytest's own unraisable plugin has set its hook: wrap that one
def pytest_configure(config: pytest.Config) -> None:
    socket.socket.__init__ = _recording_init  # type: ignore[method-assign]
    pytest_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.object, socket.socket):
            print(f"{unraisable.object!r} was made at {origin_of(unraisable.object)}", file=sys.stderr)
        pytest_hook(unraisable)

    sys.unraisablehook = hook
