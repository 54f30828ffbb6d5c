"""Streaming a cluster's users for the fan-out: every member once, in id order, the next batch read ahead."""

from __future__ import annotations

from collections.abc import Callable

from host.audience.users import stream_cluster_users
from host.storage.store import Store
from tests.support.commands import CommandCounter, counted_client
from tests.support.enqueued import add_cluster
from tests.support.stacks import Stack
from tests.support.waiting import eventually


async def test_members_come_in_id_order_and_the_next_batch_is_read_while_one_is_used(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("stream")
    ids = await add_cluster(stack, group, 25)
    listener = CommandCounter("getMore")
    async with counted_client(stack.settings.env.mongodb_url, listener) as client:
        store = Store(client, stack.settings)
        seen: list[str] = []
        batches = stream_cluster_users(store, [group], {"fiscalCode": 1}, key="fiscalCode", batch_size=10)
        async for batch in batches:
            if not seen:  # the first batch is in hand: the second is already on its way
                await eventually(lambda: listener.sent, timeout=10, what="the next batch's getMore")
            seen.extend(user["fiscalCode"] for user in batch)
        assert seen == ids  # 10 + 10 + 5, in order, each once

        stopped = stream_cluster_users(store, [group], {"fiscalCode": 1}, key="fiscalCode", batch_size=10)
        async for batch in stopped:
            assert [user["fiscalCode"] for user in batch] == ids[:10]
            break
        await stopped.aclose()  # the read ahead is cancelled and the cursor closed, nothing left running
        resumed = stream_cluster_users(
            store, [group], {"fiscalCode": 1}, after=ids[9], key="fiscalCode", batch_size=10
        )
        assert [user["fiscalCode"] async for batch in resumed for user in batch] == ids[10:]
