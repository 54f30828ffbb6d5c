"""The Flow Manager integration: after /saga/send, tell the saga whether sending started.

The URL and labels come from Tidings' ``FLOW_MANAGER_URL`` and ``flowManager``, or from Mia's
``flowManagerConfiguration`` (host.settings.flow_manager). As Mia documents, each event is sent only
when its label is configured: ``{"key": <saga id>, "value": {"messageLabel": <label>, "messagePayload": {}}}``
to ``<url>/event``.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from host.settings import Settings

__all__ = ["FlowManagerNotifier"]

log = logging.getLogger(__name__)


class FlowManagerNotifier:
    """Posts success/fail events to ``<url>/event``, retried, never failing the dispatch."""

    def __init__(self, settings: Settings, attempts: int = 5, first_delay: float = 0.5) -> None:
        self._url = settings.saga.url
        self._success = settings.saga.success_label
        self._fail = settings.saga.fail_label
        self._attempts = attempts
        self._first_delay = first_delay
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        """Whether the URL and at least one event label are configured."""
        return bool(self._url and (self._success or self._fail))

    def notify(self, saga_id: str, success: bool) -> None:
        """Send the event in the background (the HTTP answer does not wait for the Flow Manager)."""
        label = self._success if success else self._fail
        if not self._url or not label:
            return
        task = asyncio.create_task(self._post(saga_id, label))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, saga_id: str, label: str) -> None:
        assert self._url
        event = {"key": saga_id, "value": {"messageLabel": label, "messagePayload": {}}}
        delay = self._first_delay
        async with httpx.AsyncClient(timeout=10.0) as client:
            for attempt in range(1, self._attempts + 1):
                try:
                    response = await client.post(self._url.rstrip("/") + "/event", json=event)
                    if response.status_code < 300:
                        return
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = type(exc).__name__
                log.warning(
                    "flow manager event %s for saga %s not delivered (attempt %d/%d): %s",
                    label,
                    saga_id,
                    attempt,
                    self._attempts,
                    problem,
                )
                await asyncio.sleep(delay)
                delay *= 2
        log.error("flow manager event %s for saga %s given up", label, saga_id)

    async def drain(self) -> None:
        """Wait for the events still on their way (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
