"""The voice channel: a Twilio call that reads the rendered message with TwiML ``<Say>``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from channels.sms import parse_phone_number
from channels.twilio_client import (
    PROVIDER,
    TwilioConfig,
    await_twilio,
    open_twilio_client,
    require_credentials,
)
from host.errors import ConfigurationError, InvalidAddress, PermanentChannelError
from host.plugins.channel import ChannelContext, Limits, Message, Receipt, Sender

__all__ = ["DEFAULT_LANGUAGE", "DEFAULT_VOICE", "VoiceChannel", "build_twiml"]

DEFAULT_VOICE = "alice"
DEFAULT_LANGUAGE = "it-IT"
_OPTIONS = ("voice", "language", "loop")
# Twilio refuses a Calls request whose Twiml parameter is longer than this
_MAX_TWIML = 4000


def build_twiml(text: str, *, voice: str, language: str, loop: int = 1) -> str:
    """Return the TwiML document that says ``text`` (escaped) with the given voice and language."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language, loop=loop if loop != 1 else None)
    return str(response)


class _VoiceSender:
    """Places calls over one SDK client (one aiohttp session)."""

    def __init__(
        self,
        client: Client,
        sender: str,
        voice: str,
        language: str,
        loop: int,
        status_callback: str | None = None,
    ) -> None:
        self._client = client
        self._callback = {"status_callback": status_callback} if status_callback else {}
        self._sender = sender
        self._voice = voice
        self._language = language
        self._loop = loop

    async def send(self, message: Message, address: str) -> Receipt:
        """Create one Call resource with inline TwiML; its SID is the receipt."""
        if not message.text:
            raise PermanentChannelError("the voice message is empty", code="empty-body")
        twiml = build_twiml(message.text, voice=self._voice, language=self._language, loop=self._loop)
        if len(twiml) > _MAX_TWIML:
            raise PermanentChannelError(
                f"the voice message makes {len(twiml)} characters of TwiML, Twilio takes {_MAX_TWIML}",
                code="body-too-long",
            )
        created: Any = await await_twilio(
            self._client.calls.create_async(to=address, from_=self._sender, twiml=twiml, **self._callback)
        )
        return Receipt(provider_id=str(created.sid), provider=PROVIDER)


class VoiceChannel:
    """Voice calls through Twilio; options ``channels.voice.{voice, language, loop}``."""

    name: ClassVar[str] = "voice"
    address_field: ClassVar[str] = "phoneNumber"
    config_type: ClassVar[type[msgspec.Struct]] = TwilioConfig
    env_prefix: ClassVar[str] = "TWILIO_"
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "voiceMessage"})
    required: ClassVar[tuple[str, ...]] = ("text",)
    html_fields: ClassVar[tuple[str, ...]] = ()
    needs_sender: ClassVar[bool] = True
    # 1 call/s is Twilio's default "calls per second" for an account (Twilio queues the excess);
    # the text budget leaves room for the TwiML wrapper and XML escaping within 4,000 characters.
    limits: ClassVar[Limits] = Limits(rate_per_second=1.0, batch_size=50, max_body_length=3500)
    #: who sends its messages, as deliveries and statistics name it
    provider: ClassVar[str] = PROVIDER

    def __init__(self, config: TwilioConfig, context: ChannelContext) -> None:
        require_credentials(config, self.name)
        try:
            sender = parse_phone_number(context.sender)
        except InvalidAddress as exc:
            raise ConfigurationError("sender.voice", exc.message) from exc
        options = dict(context.options)
        for key in options:
            if key not in _OPTIONS:
                raise ConfigurationError(
                    f"channels.voice.{key}", f"unknown option (known: {', '.join(_OPTIONS)})"
                )
        self.voice = options.get("voice", DEFAULT_VOICE)
        self.language = options.get("language", DEFAULT_LANGUAGE)
        self.loop = options.get("loop", 1)
        for key, value in (("voice", self.voice), ("language", self.language)):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"channels.voice.{key}", "must be a non-empty string")
        if not isinstance(self.loop, int) or isinstance(self.loop, bool) or not 1 <= self.loop <= 10:
            raise ConfigurationError("channels.voice.loop", "must be an integer from 1 to 10")
        self.config = config
        self.sender = sender

    def parse_address(self, raw: object) -> str:
        """Return the E.164 number, or raise InvalidAddress."""
        return parse_phone_number(raw)

    async def startup(self) -> None:
        """Nothing to prepare: each batch opens its own client inside the running loop."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """Open one SDK client (one aiohttp connection pool) for a batch."""
        async with open_twilio_client(self.config) as client:
            yield _VoiceSender(
                client, self.sender, self.voice, self.language, self.loop, self.config.status_callback
            )

    async def shutdown(self) -> None:
        """Nothing to release."""


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _check: type[Channel] = VoiceChannel
