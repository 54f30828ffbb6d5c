"""A broker stand-in that keeps what the outbox hands over, and the users the fan-out tests send to."""

from __future__ import annotations

from tests.support.stacks import Stack

__all__ = ["Enqueued", "add_cluster"]


class Enqueued:
    """Stands for the broker: keeps every delivery id handed over, or refuses while ``down``."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.messages = 0
        self.down = False
        #: (channel, lane, delay in ms, ids) of every message, in order
        self.batches: list[tuple[str, str, int, list[str]]] = []

    def __call__(self, channel: str, ids: list[str], delay_ms: int, lane: str = "normal") -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.messages += 1
        self.ids.extend(ids)
        self.batches.append((channel, lane, delay_ms, list(ids)))

    def lanes_of(self, ids: list[str]) -> dict[str, str]:
        """delivery id → the lane it was last handed to."""
        wanted = set(ids)
        return {i: lane for _, lane, _, batch in self.batches for i in batch if i in wanted}


async def add_cluster(stack: Stack, group: str, count: int) -> list[str]:
    """``count`` users in cluster ``group``, each with an e-mail address; returns their ids in order."""
    ids = [f"{group}-{i:03d}" for i in range(count)]
    await stack.add_users(
        *({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": [group]} for uid in ids)
    )
    return ids
