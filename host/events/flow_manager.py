"""The Flow Manager integration: after /saga/send, tell the saga whether sending started.

The URL and labels come from Tidings' ``FLOW_MANAGER_URL`` and ``flowManager``, or from Mia's
``flowManagerConfiguration`` (host.settings.flow_manager). As Mia documents, each event is sent only
when its label is configured: ``{"key": <saga id>, "value": {"messageLabel": <label>, "messagePayload": {}}}``
to ``<url>/event``. An event is posted in the background and retried with tenacity (a transport error or
a status of 300 or more: ``attempts`` tries, ``first_delay`` doubling in between), each failure logged
as a warning and a final give-up as an error; it never fails the dispatch.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from host.settings import Settings

__all__ = ["FlowManagerNotifier"]

log = logging.getLogger(__name__)


def _refused(response: httpx.Response) -> bool:
    return response.status_code >= 300


def _problem(state: RetryCallState) -> str:
    """What the failed attempt ran into: an HTTP status, or the name of the transport error."""
    assert state.outcome is not None
    exc = state.outcome.exception()
    if exc is not None:
        return type(exc).__name__
    response: httpx.Response = state.outcome.result()
    return f"HTTP {response.status_code}"


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

        def report(state: RetryCallState) -> None:
            log.warning(
                "flow manager event %s for saga %s not delivered (attempt %d/%d): %s",
                label,
                saga_id,
                state.attempt_number,
                self._attempts,
                _problem(state),
            )

        def give_up(state: RetryCallState) -> None:
            log.error("flow manager event %s for saga %s given up", label, saga_id)

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(httpx.HTTPError) | retry_if_result(_refused),
            wait=wait_exponential(multiplier=self._first_delay),  # first_delay, doubling
            stop=stop_after_attempt(self._attempts),
            after=report,  # after every failed attempt, the last one included
            retry_error_callback=give_up,  # instead of raising: the dispatch never fails for this
        )
        async with httpx.AsyncClient(timeout=10.0) as client:
            await retrying(client.post, self._url.rstrip("/") + "/event", json=event)

    async def drain(self) -> None:
        """Wait for the events still on their way (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
