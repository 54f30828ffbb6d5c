"""Fair baselines: the same messages sent by ``processes × threads`` plain senders, and figures side by side.

A fair peer of Tidings' workers is a script with the same parallelism: :func:`parallel_rate` forks
``processes`` child processes (as ``tidings worker --processes`` does), each running ``threads`` threads,
and every thread sends its share of the messages through one sender of its own that it keeps for the
whole run (a reused SMTP connection, an SDK client with its connection pool). The children's CPU is read
from ``getrusage(RUSAGE_CHILDREN)`` once they are reaped: they are gone before a /proc reading could
see them.

:class:`Figure` and :func:`print_figures` print every sender of a run in one table, rate and CPU per
message by process group, and the ratio of Tidings to the fair peer.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from bench.mail_stack import CpuMeter

__all__ = ["Figure", "OpenSender", "children_cpu_seconds", "measured", "parallel_rate", "print_figures"]

#: ``open_sender()`` is entered once per thread; what it yields sends message ``i``
OpenSender = Callable[[], AbstractContextManager[Callable[[int], None]]]


def children_cpu_seconds() -> float:
    """User + system CPU of every child this process has reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _send_share(open_sender: OpenSender, indexes: range, threads: int) -> None:
    errors: list[BaseException] = []

    def thread_body(share: range) -> None:
        try:
            with open_sender() as send:
                for i in share:
                    send(i)
        except BaseException as exc:  # reported through the exit code
            errors.append(exc)

    running = [
        threading.Thread(target=thread_body, args=(indexes[t::threads],), daemon=True) for t in range(threads)
    ]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    if errors:
        raise errors[0]


def parallel_rate(count: int, processes: int, threads: int, open_sender: OpenSender) -> tuple[float, float]:
    """Messages per second of ``processes × threads`` senders, and the CPU seconds their processes spent.

    Timed from forking the first process to reaping the last; each process opens its senders inside
    the timed part, as Tidings' workers open their connections inside theirs.
    """
    context = multiprocessing.get_context("fork")
    before = children_cpu_seconds()
    started = time.perf_counter()
    children = [
        context.Process(target=_send_share, args=(open_sender, range(p, count, processes), threads))
        for p in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    elapsed = time.perf_counter() - started
    failed = [child.exitcode for child in children if child.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} sender processes failed (exit codes {failed})")
    return count / elapsed, children_cpu_seconds() - before


@dataclass
class Figure:
    """One sender's result: messages per second and CPU per message by process group."""

    label: str
    rate: float
    count: int
    cpu: CpuMeter = field(repr=False)
    per: str = "message"

    def cpu_line(self) -> str:
        return self.cpu.summary(self.count, self.per)


def measured(label: str, count: int, pids: dict[str, int | None], run: Callable[[], float]) -> Figure:
    """Run ``run`` (which returns a rate) under a CpuMeter of ``pids`` and this process."""
    meter = CpuMeter(pids).start()
    rate = run()
    meter.stop()
    return Figure(label, rate, count, meter)


def print_figures(
    title: str, unit: str, figures: list[Figure], *, ours: Figure, peer: Figure, target: str = ""
) -> None:
    """Print every figure of the run side by side, then Tidings' rate over the fair peer's."""
    print(f"\n{title}")
    width = max(len(f.label) for f in figures)
    for figure in figures:
        print(f"  {figure.label:<{width}}  {figure.rate:>9,.0f} {unit}/s   {figure.cpu_line()}")
    wanted = f" (target {target})" if target else ""
    print(f"  tidings / the fair peer ({peer.label}) = {ours.rate / peer.rate:.2f}×{wanted}")
