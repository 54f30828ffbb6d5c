"""The Channel protocol: what a delivery plugin declares and implements.

A channel receives an already-rendered :class:`Message` and a normalised address and returns a
:class:`Receipt`, or raises :class:`~host.errors.TransientChannelError` /
:class:`~host.errors.PermanentChannelError`. Channels never touch the database or the broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Protocol, runtime_checkable

import msgspec

__all__ = [
    "Attachment",
    "Channel",
    "ChannelContext",
    "Limits",
    "Lookahead",
    "Message",
    "Receipt",
    "Sender",
]


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits a channel declares as data; the host enforces them."""

    #: messages per second allowed by the provider, across every worker (None: unlimited)
    rate_per_second: float | None = None
    #: how many deliveries one actor message carries
    batch_size: int = 50
    #: provider connections one batch uses at once (``open()`` once each, messages dealt round-robin):
    #: hides the provider's round trips when the worker has fewer batches in flight than it has CPU for
    concurrency: int = 1
    #: longest text body the provider accepts (None: no limit)
    max_body_length: int | None = None


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A file attached to an e-mail; ``filename`` is already sanitised."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One rendered message for one user on one channel.

    Which attributes a channel reads is its own business: e-mail uses ``subject``, ``text``, ``html``,
    ``attachments``, ``cc``, ``bcc``, ``sender``, ``envelope_sender``, ``headers`` and ``personal_headers``;
    SMS and voice use ``text``; push uses ``subject`` (title), ``subtitle``, ``text`` and ``data``.
    """

    subject: str | None = None
    subtitle: str | None = None
    text: str | None = None
    html: str | None = None
    data: dict[str, Any] = {}
    attachments: tuple[Attachment, ...] = ()
    sender: str | None = None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    headers: dict[str, str] = {}
    #: the SMTP envelope sender (``MAIL FROM``, so ``Return-Path``) when it differs from ``sender``: the
    #: host's VERP address, where this message's bounces come back (host.access.bounce_addresses)
    envelope_sender: str | None = None
    #: headers for the addressed user alone (their unsubscribe link): never on the Cc/Bcc copies
    personal_headers: dict[str, str] = {}


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """Proof that the provider accepted a message."""

    provider_id: str
    provider: str | None = None


class ChannelContext(msgspec.Struct, frozen=True, kw_only=True):
    """Service-level settings handed to a channel at construction (from the configuration file)."""

    #: the configured sender for this channel (``sender.<name>``), if any
    sender: str | None = None
    #: free-form options from the configuration file's ``channels.<name>`` object
    options: Mapping[str, Any] = {}
    #: the configuration's ``androidIntentAction``
    android_intent_action: str | None = None
    #: where an inbox provider keeps what it captures (a ``host.plugins.capture.CaptureSink``): set only
    #: by the embedded mode, for the inbox providers it builds; None for every other channel
    capture: Any = None


@runtime_checkable
class Sender(Protocol):
    """An open connection to a provider, used for one batch of messages."""

    async def send(self, message: Message, address: str) -> Receipt:
        """Deliver one message to one address, or raise a ChannelError."""
        ...


@runtime_checkable
class Lookahead(Protocol):
    """A sender that can start on the next message early (SMTP pipelines its envelope); optional."""

    def expect(self, message: Message, address: str) -> None:
        """``message`` to ``address`` is most likely the next ``send``; a different one must still work."""
        ...


@runtime_checkable
class Channel(Protocol):
    """A delivery plugin, registered through the ``tidings.channels`` entry-point group."""

    #: the channel's name as used in ``channels`` of /send (``email``, ``sms`` ...)
    name: ClassVar[str]
    #: the ``userFields`` key that holds this channel's address (``emailAddress``, ``phoneNumber`` ...)
    address_field: ClassVar[str]
    #: msgspec Struct decoded from environment variables ``<env_prefix><FIELD_NAME_UPPER>``
    config_type: ClassVar[type[msgspec.Struct]]
    env_prefix: ClassVar[str]
    #: template field that feeds each Message attribute, e.g. ``{"subject": "emailTitle"}``; ``data``
    #: is fed by a JSON field (``pushData``), rendered and then parsed into the Message's ``data``
    template_fields: ClassVar[Mapping[str, str]]
    #: Message attributes that must be non-empty; ``"a|b"`` means at least one of them
    required: ClassVar[tuple[str, ...]]
    #: Message attributes rendered as HTML (interpolated values escaped, newlines become <br/>)
    html_fields: ClassVar[tuple[str, ...]]
    #: whether the channel needs a configured ``sender.<name>``
    needs_sender: ClassVar[bool]
    limits: ClassVar[Limits]

    def __init__(self, config: Any, context: ChannelContext) -> None: ...

    def parse_address(self, raw: object) -> str:
        """Return the canonical address, or raise InvalidAddress naming what is wrong."""
        ...

    async def startup(self) -> None:
        """Prepare long-lived resources (clients, pools); called once per worker."""
        ...

    def open(self) -> AbstractAsyncContextManager[Sender]:
        """Open a provider connection for one batch (one SMTP session, one HTTP client ...)."""
        ...

    async def shutdown(self) -> None:
        """Release what startup acquired."""
        ...
