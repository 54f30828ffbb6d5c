"""The events stack's secret and public URL, and the webhook posts of one dispatch.

The stack itself is the module fixture ``events_stack`` of tests/integration/conftest.py: the webhook, Twilio
callback and console event-page tests each start one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tests.fakes.webhook import WebhookPost

__all__ = ["CALLBACK_URL", "PUBLIC_URL", "SECRET", "of_dispatch", "wait_for"]

SECRET = "whsec-test-0123456789"
PUBLIC_URL = "http://tidings.test:8000"
CALLBACK_URL = PUBLIC_URL + "/twilio/status"


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def of_dispatch(posts: list[WebhookPost], dispatch_id: str) -> list[WebhookPost]:
    return [p for p in posts if p.body and str(p.body["id"]).startswith(dispatch_id)]
