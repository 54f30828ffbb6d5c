"""The garbage collector of a long-running process (``tidings worker``, ``tidings api``, ``tidings run``).

Two settings, applied once start-up is over (:func:`settle_collector`):

- ``gc.freeze()``: what start-up made lives as long as the process, so it is moved out of the
  collector's sight and full collections stop walking it (a worker's collector time per mail, measured
  bench-style: 30 -> 6 µs; the API's per /send: 60 -> 0.5 µs);
- the youngest generation is collected after :data:`YOUNG_THRESHOLD` allocations instead of CPython's
  700. A fan-out batch is thousands of dicts (2,000 users, as many deliveries) that live across the
  awaits of its write, so with 700 the collector ran ~330 times per 100,000 deliveries and walked each
  batch again in every generation it was promoted to: 0.6-1.0 µs of the fan-out's 7-10 µs of CPU a
  delivery (``gc.callbacks``, bench.fanout). With 20,000: one collection, 0.03-0.08 µs. The garbage that
  only the collector frees (cycles) waits for at most that many allocations: a few MB at worst.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_collector"]

#: allocations (net of deallocations) between two collections of the youngest generation
YOUNG_THRESHOLD = 20_000


def settle_collector() -> None:
    """Freeze what start-up made and collect the young generation every :data:`YOUNG_THRESHOLD`
    allocations (the older generations' thresholds are kept)."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
