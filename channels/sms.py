"""The SMS channel: Twilio Programmable Messaging through the official SDK."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from twilio.rest import Client

from channels.twilio_client import (
    PROVIDER,
    TwilioConfig,
    await_twilio,
    open_twilio_client,
    require_credentials,
)
from host.errors import ConfigurationError, InvalidAddress, PermanentChannelError
from host.plugins.channel import ChannelContext, Limits, Message, Receipt, Sender

__all__ = ["SmsChannel", "parse_phone_number"]

_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
# separators people type inside numbers; anything else makes the number invalid
_SEPARATORS = re.compile(r"[\s().-]")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


def parse_phone_number(raw: object) -> str:
    """Return ``raw`` as an E.164 number (``+`` and 8-15 digits), or raise InvalidAddress."""
    if not isinstance(raw, str):
        raise InvalidAddress(
            f"phone number must be a string, got {type(raw).__name__}", code="invalid-address"
        )
    number = _SEPARATORS.sub("", raw)
    if not _E164.match(number):
        raise InvalidAddress(
            f"phone number {raw!r} is not in E.164 format (+ and 8-15 digits)", code="invalid-address"
        )
    return number


class _SmsSender:
    """Sends SMS over one SDK client (one aiohttp session)."""

    def __init__(self, client: Client, sender: str, status_callback: str | None = None) -> None:
        self._client = client
        self._callback = {"status_callback": status_callback} if status_callback else {}
        # a Messaging Service picks the number itself; anything else is a From number or sender id
        self._origin = (
            {"messaging_service_sid": sender} if _MESSAGING_SERVICE_SID.match(sender) else {"from_": sender}
        )

    async def send(self, message: Message, address: str) -> Receipt:
        """Create one Message resource; its SID is the receipt."""
        if not message.text:
            raise PermanentChannelError("the SMS text is empty", code="empty-body")
        created: Any = await await_twilio(
            self._client.messages.create_async(
                to=address, body=message.text, **self._origin, **self._callback
            )
        )
        return Receipt(provider_id=str(created.sid), provider=PROVIDER)


class SmsChannel:
    """SMS through Twilio; the sender is ``sender.sms`` (E.164 number, sender id or ``MG…`` service)."""

    name: ClassVar[str] = "sms"
    address_field: ClassVar[str] = "phoneNumber"
    config_type: ClassVar[type[msgspec.Struct]] = TwilioConfig
    env_prefix: ClassVar[str] = "TWILIO_"
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "smsMessage"})
    required: ClassVar[tuple[str, ...]] = ("text",)
    html_fields: ClassVar[tuple[str, ...]] = ()
    needs_sender: ClassVar[bool] = True
    # No rate: Twilio queues what exceeds each sender's messages-per-second itself, and the account's
    # request concurrency limit answers 429, which is retried after Retry-After.
    limits: ClassVar[Limits] = Limits(rate_per_second=None, batch_size=50, max_body_length=1600)
    #: who sends its messages, as deliveries and statistics name it
    provider: ClassVar[str] = PROVIDER

    def __init__(self, config: TwilioConfig, context: ChannelContext) -> None:
        require_credentials(config, self.name)
        sender = context.sender
        if not sender:
            raise ConfigurationError("sender.sms", "required because 'sms' is an active channel")
        if not (
            _E164.match(sender) or _MESSAGING_SERVICE_SID.match(sender) or _ALPHANUMERIC_SENDER.match(sender)
        ):
            raise ConfigurationError(
                "sender.sms", "must be an E.164 number, an alphanumeric sender id or a Messaging Service SID"
            )
        self.config = config
        self.context = context

    def parse_address(self, raw: object) -> str:
        """Return the E.164 number, or raise InvalidAddress."""
        return parse_phone_number(raw)

    async def startup(self) -> None:
        """Nothing to prepare: each batch opens its own client inside the running loop."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """Open one SDK client (one aiohttp connection pool) for a batch."""
        assert self.context.sender is not None  # checked in __init__
        async with open_twilio_client(self.config) as client:
            yield _SmsSender(client, self.context.sender, self.config.status_callback)

    async def shutdown(self) -> None:
        """Nothing to release."""


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _check: type[Channel] = SmsChannel
