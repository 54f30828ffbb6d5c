"""BackgroundLoop.stop releases what the step opened, whether the loop's task ever started or not."""

from __future__ import annotations

from host.runtime.background import BackgroundLoop


async def _step() -> None:
    return None


async def test_stop_runs_on_stop_for_a_loop_that_never_started() -> None:
    # the step ran without the loop (a domain object's run_once) and opened a client: stop closes it
    stops: list[str] = []

    async def on_stop() -> None:
        stops.append("closed")

    loop = BackgroundLoop("poster", _step, 60.0, on_stop=on_stop)
    await loop.stop()
    assert stops == ["closed"]


async def test_stop_ends_a_started_loop_then_runs_on_stop() -> None:
    stops: list[bool] = []
    loop = BackgroundLoop("poster", _step, 60.0, on_stop=lambda: _note(stops, loop))
    loop.start()
    assert loop.running
    await loop.stop()
    assert stops == [False]  # the task was over when on_stop ran


async def _note(stops: list[bool], loop: BackgroundLoop) -> None:
    stops.append(loop.running)
