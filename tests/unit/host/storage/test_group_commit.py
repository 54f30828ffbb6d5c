"""Group commit: a lone caller served at once, callers arriving together grouped, a failure handed to each."""

from __future__ import annotations

import asyncio
from typing import Any

from host.storage.group_commit import GroupCommit


async def test_group_commit_serves_a_lone_caller_and_groups_the_rest() -> None:
    groups: list[list[int]] = []

    async def run(jobs: list[int]) -> list[Any]:
        groups.append(jobs)
        await asyncio.sleep(0)
        return [ValueError(job) if job == 13 else job * 2 for job in jobs]

    commit = GroupCommit[int, int](run, max_size=4)
    assert await commit(1) == 2
    results = await asyncio.gather(*(commit(job) for job in range(10, 20)), return_exceptions=True)
    assert [r if isinstance(r, int) else "error" for r in results] == [
        20,
        22,
        24,
        "error",
        28,
        30,
        32,
        34,
        36,
        38,
    ]
    assert groups[0] == [1]
    assert [len(g) for g in groups[1:]] == [4, 4, 2]  # arrived together: grouped up to max_size
    assert sorted(job for group in groups[1:] for job in group) == list(range(10, 20))


async def test_group_commit_hands_a_failed_call_to_every_caller_of_its_group() -> None:
    async def run(jobs: list[str]) -> list[Any]:
        raise ConnectionError("database down")

    commit = GroupCommit[str, str](run)
    results = await asyncio.gather(commit("a"), commit("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
