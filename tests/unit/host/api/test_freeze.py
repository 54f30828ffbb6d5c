"""A server's app settles the collector after the app's own startup steps: what start-up made is frozen,
and the youngest generation is collected less often (host.runtime.collector)."""

from __future__ import annotations

import gc

from litestar import Litestar

from host.runtime.collector import YOUNG_THRESHOLD


def _collected(thing: object) -> bool:
    """Whether the collector still looks at it (frozen objects are in no generation it walks)."""
    return any(seen is thing for seen in gc.get_objects())


async def test_the_servers_app_settles_the_collector_after_its_startup() -> None:
    from host.api.app import settle_collector_after_startup

    made: list[list[int]] = []
    app = Litestar(route_handlers=[], on_startup=[lambda: made.append([1, 2])])  # as a plugin's step
    settle_collector_after_startup(app)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(700, *thresholds[1:])  # CPython's default, whatever this process had
    try:
        async with app.lifespan():
            assert made and not _collected(made[0])
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])  # the older ones kept
    finally:
        gc.unfreeze()  # the test process's objects go back to the collector
        gc.set_threshold(*thresholds)
    assert _collected(made[0])
