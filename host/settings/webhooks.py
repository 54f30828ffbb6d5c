"""Webhook endpoints as the configuration file declares them: ``webhooks: [{"url": ..., "events": []}]``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = ["EVENT_TYPES", "EventType", "WebhookEndpoint"]

EventType = Literal[
    "delivery.sent",
    "delivery.failed",
    "delivery.skipped",
    "delivery.delivered",
    "delivery.undelivered",
    "delivery.bounced",
    "delivery.complained",
    "dispatch.completed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class WebhookEndpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """One URL that receives signed event posts; ``events`` empty means every event type."""

    url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+(/\S*)?$")]
    events: list[EventType] = []
    #: posts of one event to this endpoint before it is marked failed (replayable from the console)
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 8
    min_backoff_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    max_backoff_seconds: Annotated[float, msgspec.Meta(ge=0)] = 3600.0
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to events of this type."""
        return not self.events or event_type in self.events
