"""Webhook endpoints as the configuration file declares them: ``webhooks: [{"url": ..., "events": []}]``.

An endpoint may send headers of its own (``"headers": {"Authorization": {"env": "HOOK_TOKEN"}}``), so
its URL needs no secret. A header's value comes only from an environment variable, never from the file
(a literal value is refused); :func:`endpoint_headers` reads them, and a variable not set stops
start-up naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from host.errors import ConfigurationError

__all__ = ["EVENT_TYPES", "EventType", "WebhookEndpoint", "endpoint_headers"]

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


#: headers the poster writes itself (the signature, the event's id and type, the body's framing)
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "transfer-encoding", "host", "connection"}
)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class WebhookEndpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """One URL that receives signed event posts; ``events`` empty means every event type."""

    url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+(/\S*)?$")]
    events: list[EventType] = []
    #: posts of one event to this endpoint before it is marked failed (replayable from the console)
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 8
    min_backoff_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    max_backoff_seconds: Annotated[float, msgspec.Meta(ge=0)] = 3600.0
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: headers sent with every post (e.g. ``Authorization``), each ``{"env": "VARIABLE"}``
    headers: dict[str, object] = {}

    def __post_init__(self) -> None:
        for name, source in self.headers.items():
            lowered = name.lower()
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"headers.{name}: not a header name")
            if lowered in RESERVED_HEADERS or lowered.startswith("tidings-"):
                raise ValueError(f"headers.{name}: written by Tidings itself")
            variable = source.get("env") if isinstance(source, dict) and len(source) == 1 else None
            if not isinstance(variable, str) or not _VARIABLE.fullmatch(variable):
                # the value is not echoed: it may be the very secret that belongs in the environment
                raise ValueError(
                    f'headers.{name}: must be {{"env": "VARIABLE"}}: a header\'s value comes from an '
                    "environment variable, never from the file"
                )

    def header_variables(self) -> dict[str, str]:
        """Header name → the environment variable holding its value."""
        return {name: str(source["env"]) for name, source in self.headers.items() if isinstance(source, dict)}

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to events of this type."""
        return not self.events or event_type in self.events


def endpoint_headers(endpoint: WebhookEndpoint, environ: Mapping[str, str], index: int) -> dict[str, str]:
    """The endpoint's own headers with their values from ``environ``; ConfigurationError names a gap."""
    headers: dict[str, str] = {}
    for name, variable in endpoint.header_variables().items():
        value = environ.get(variable)
        if not value:
            raise ConfigurationError(
                f"webhooks[{index}].headers.{name}", f"environment variable {variable} is not set"
            )
        if "\r" in value or "\n" in value:
            raise ConfigurationError(
                f"webhooks[{index}].headers.{name}", f"environment variable {variable} holds a line break"
            )
        headers[name] = value
    return headers
