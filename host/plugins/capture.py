"""Captures: what a provider would have received, kept by the embedded mode's inbox instead of being sent.

``tidings run`` has no SMTP server, Twilio account or push keys to begin with. For each active channel
with no provider configured it builds the channel's **inbox provider** instead: a plugin of the
``tidings.inbox`` entry-point group registered under the channel's name (``email =
"channels.inbox:EmailInbox"``), keeping the Channel protocol (the same address parsing, limits and
template fields as the channel). Its sender builds exactly what the real provider would have been
sent (the MIME bytes of an e-mail, the Twilio API request of an SMS or a call, the push payload) and
hands it, as a :class:`Capture`, to the :class:`CaptureSink` it finds in
:attr:`~host.plugins.channel.ChannelContext.capture`; the sink's id of the capture is the receipt's
``provider_id`` and the provider is ``"inbox"``.

Inbox providers are a group of their own, not ``tidings.providers`` types: a configuration file cannot
pick one (``tidings api`` and ``tidings worker`` never capture), the rule that picks a provider type by
its variables never sees them, and there is no peer that could refuse a message, which is what the
providers' contract suite checks.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

__all__ = ["INBOX_PROVIDER", "Capture", "CaptureSink", "InboxConfig", "describe"]

#: the ``provider`` of a captured delivery
INBOX_PROVIDER = "inbox"


class Capture(msgspec.Struct, frozen=True, kw_only=True):
    """One message as the provider would have received it."""

    #: the channel that captured it (``email``, ``sms`` ...)
    channel: str
    #: the canonical address it was for
    to: str
    #: who would have received it: ``smtp``, ``twilio``, ``webpush``, ``fcm``
    provider: str
    #: a one-line description for lists: the subject, the first words of a text
    summary: str
    #: the request as the provider would have received it, JSON-compatible (an SMTP envelope, the
    #: form of a Twilio API call, a push payload)
    request: dict[str, Any]
    #: the exact bytes of the message when it has some of its own (the MIME of an e-mail)
    raw: bytes | None = None


@runtime_checkable
class CaptureSink(Protocol):
    """Where inbox providers keep what they capture (the embedded mode's inbox, host.inbox)."""

    async def keep(self, capture: Capture) -> str:
        """Store one capture and return its id; raise PermanentChannelError if it cannot be kept."""
        ...


class InboxConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Inbox providers read no environment variable: they need nothing to capture."""


def describe(value: Any) -> str:
    """The first line of ``value``, at most 120 characters (a capture's summary)."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= 120 else text[:119] + "…"
