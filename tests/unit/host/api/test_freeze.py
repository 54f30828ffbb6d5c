"""A server's app freezes what its start-up made, after the app's own startup steps."""

from __future__ import annotations

import gc

from litestar import Litestar


def _collected(thing: object) -> bool:
    """Whether the collector still looks at it (frozen objects are in no generation it walks)."""
    return any(seen is thing for seen in gc.get_objects())


async def test_the_servers_app_freezes_what_its_startup_made() -> None:
    from host.api.app import freeze_after_startup

    made: list[list[int]] = []
    app = Litestar(route_handlers=[], on_startup=[lambda: made.append([1, 2])])  # as a plugin's step
    freeze_after_startup(app)
    gc.unfreeze()
    try:
        async with app.lifespan():
            assert made and not _collected(made[0])
    finally:
        gc.unfreeze()  # the test process's objects go back to the collector
    assert _collected(made[0])
