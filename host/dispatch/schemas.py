"""HTTP bodies of the public API: msgspec Structs, kept apart from the storage documents."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from host.audience.planning import Failure
from host.settings import Lane

__all__ = [
    "FlowManagerCommand",
    "FlowManagerMessage",
    "SendAccepted",
    "SendRequest",
]


class SendRequest(msgspec.Struct, rename="camel", kw_only=True):
    """Body of POST /send (Mia Messaging Service). Unknown fields are accepted and ignored."""

    channels: list[str]
    recipients: list[str] | None = None
    clusters: list[str] | None = None
    message_title: str | None = None
    message_content: str | None = None
    template_id: str | None = None
    data: dict[str, Any] = {}
    email_attachments: list[str] | None = None
    email_carbon_copies: list[str] | None = None
    email_blind_carbon_copies: list[str] | None = None
    email_sender: str | None = None
    #: ISO 8601 with a UTC offset: store the dispatch now, start it then (host.dispatch.scheduling)
    send_at: str | None = None
    #: the priority lane: ``high``, ``normal`` or ``bulk``; by default chosen by host.settings.lanes
    priority: Lane | None = None


class SendAccepted(msgspec.Struct, rename="camel", kw_only=True):
    """Answer of POST /send: Mia's ``failures``, plus the id to follow the dispatch with.

    An audience of more than 1,000 users is expanded after the answer: ``expansion`` is then
    ``"background"``, ``failures`` holds only what the listed recipients already showed, and the rest
    are the dispatch's deliveries with status ``skipped`` or ``failed``.
    """

    failures: list[Failure]
    dispatch_id: str
    expansion: Literal["background"] | msgspec.UnsetType = msgspec.UNSET
    #: only in the answer to a scheduled send: when it starts (its failures are known then)
    send_at: str | msgspec.UnsetType = msgspec.UNSET


class FlowManagerMessage(msgspec.Struct, rename="camel", kw_only=True):
    """The ``value`` of a Flow Manager command."""

    message_label: str
    message_payload: SendRequest


class FlowManagerCommand(msgspec.Struct, kw_only=True):
    """Body of POST /saga/send: ``{"key": saga id, "value": {messageLabel, messagePayload}}``."""

    key: str
    value: FlowManagerMessage
