"""The events stack's secret and public URL, and the webhook posts of one dispatch.

The stack itself is the module fixture ``events_stack`` of tests/integration/conftest.py: the webhook, Twilio
callback and console event-page tests each start one.
"""

from __future__ import annotations

from tests.fakes.webhook import WebhookPost

__all__ = ["CALLBACK_URL", "PUBLIC_URL", "SECRET", "of_dispatch"]

SECRET = "whsec-test-0123456789"
PUBLIC_URL = "http://tidings.test:8000"
CALLBACK_URL = PUBLIC_URL + "/twilio/status"


def of_dispatch(posts: list[WebhookPost], dispatch_id: str) -> list[WebhookPost]:
    return [p for p in posts if p.body and str(p.body["id"]).startswith(dispatch_id)]
