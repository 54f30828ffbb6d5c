"""Inbox providers: the built-in channels' messages captured as their providers would have received them.

``tidings run`` builds these (entry points of ``tidings.inbox``, host.plugins.capture) for the active
channels that have no provider configured. Each is its channel with the last step replaced: the same
address parsing, senders' checks and message building, and then, instead of the network,
:class:`~host.plugins.capture.Capture` handed to the context's sink.

- e-mail: the SMTP envelope and the exact MIME bytes, built by the e-mail channel's own
  :func:`channels.email.compose` (so by :mod:`channels.mime`): what the SMTP server would have taken;
- SMS and voice: the Twilio API request the official SDK makes (the channels' own senders, over an
  HTTP client that records the request and answers as Twilio would), ``Twiml`` included for calls;
- push: the Web Push payload before encryption (with its endpoint and headers) or the FCM HTTP v1
  ``messages:send`` body, whichever the device token calls for.

Channels stay pure: nothing here touches a database; the sink does (host.inbox).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import msgspec
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.email import EmailChannel, EmailConfig, compose
from channels.fcm import DEFAULT_API_BASE, build_fcm_message, parse_registration_token
from channels.push import PushChannel, PushConfig
from channels.sms import SmsChannel, _SmsSender
from channels.twilio_client import TwilioConfig
from channels.voice import VoiceChannel, _VoiceSender
from channels.webpush import build_payload, parse_subscription
from host.errors import InvalidAddress, PermanentChannelError
from host.plugins.capture import INBOX_PROVIDER, Capture, CaptureSink, InboxConfig, describe
from host.plugins.channel import ChannelContext, Limits, Message, Receipt, Sender

__all__ = ["EmailInbox", "PushInbox", "SmsInbox", "VoiceInbox"]

#: the account the recorded Twilio requests name: there is none in the embedded mode
INBOX_ACCOUNT_SID = "AC" + "0" * 32
_INBOX_TOKEN = "inbox"  # noqa: S105 - no secret: the recording client sends nothing and drops it
#: the Web Push headers pywebpush sends beside the encrypted payload (the TTL is the channel's default)
_WEB_PUSH_HEADERS = {"TTL": str(PushConfig().ttl), "Content-Encoding": "aes128gcm"}


def _sink(context: ChannelContext) -> CaptureSink:
    sink = context.capture
    if not isinstance(sink, CaptureSink):
        raise PermanentChannelError("an inbox provider was built without an inbox", code="no-inbox")
    return sink


def _receipt(capture_id: str) -> Receipt:
    return Receipt(provider_id=capture_id, provider=INBOX_PROVIDER)


def _without_rate(limits: Limits) -> Limits:
    # nothing to protect: a capture reaches no provider, so it is not throttled like one
    return msgspec.structs.replace(limits, rate_per_second=None)


class _EmailCapture:
    def __init__(self, context: ChannelContext) -> None:
        self._context = context
        self._sink = _sink(context)

    async def send(self, message: Message, address: str) -> Receipt:
        envelope = compose(message, address, self._context.sender)
        request = {
            "mailFrom": envelope.sender,
            "rcptTo": [envelope.recipient, *envelope.copies],
            "messageId": envelope.message_id,
            "size": len(envelope.data),
        }
        capture = Capture(
            channel="email",
            to=address,
            provider="smtp",
            summary=describe(message.subject),
            request=request,
            raw=envelope.data,
        )
        return _receipt(await self._sink.keep(capture))


class EmailInbox(EmailChannel):
    """E-mail captured as the SMTP transaction it would have been (envelope and MIME bytes)."""

    config_type: ClassVar[type[msgspec.Struct]] = InboxConfig
    env_prefix: ClassVar[str] = "TIDINGS_INBOX_"
    limits: ClassVar[Limits] = _without_rate(EmailChannel.limits)

    def __init__(self, config: InboxConfig, context: ChannelContext) -> None:
        super().__init__(EmailConfig(), context)
        self.provider = INBOX_PROVIDER

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:  # type: ignore[override]  # not an SMTP session
        """Nothing to connect to."""
        yield _EmailCapture(self.context)


class _RecordingTwilio(AsyncHttpClient):  # type: ignore[misc]
    """An HTTP client for the Twilio SDK that keeps each request and answers like Twilio's API (201)."""

    def __init__(self) -> None:
        super().__init__(logger=logging.getLogger("twilio.http_client"), is_async=True)
        self.recorded: dict[str, Any] | None = None

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK calls it so
        allow_redirects: bool = False,
    ) -> Response:
        """Record the request (without credentials) and answer with a resource of a fresh SID."""
        kept = {key: value for key, value in (headers or {}).items() if key.lower() != "authorization"}
        form = {key: str(value) for key, value in (data or {}).items()}
        self.recorded = {"method": method.upper(), "url": url, "headers": kept, "form": form}
        prefix = "CA" if url.endswith("/Calls.json") else "SM"
        sid = prefix + secrets.token_hex(16)
        body = {"sid": sid, "account_sid": INBOX_ACCOUNT_SID, "status": "queued", **form}
        return Response(201, json.dumps(body), {"Content-Type": "application/json"})


class _TwilioCapture:
    """One of the Twilio channels' own senders, whose request is kept instead of sent."""

    def __init__(self, channel: str, sender: Sender, recorder: _RecordingTwilio, sink: CaptureSink) -> None:
        self._channel = channel
        self._sender = sender
        self._recorder = recorder
        self._sink = sink

    async def send(self, message: Message, address: str) -> Receipt:
        self._recorder.recorded = None
        receipt = await self._sender.send(message, address)  # the channel's checks and the SDK's request
        request = self._recorder.recorded
        assert request is not None, "the Twilio SDK made no request"
        request["sid"] = receipt.provider_id
        capture = Capture(
            channel=self._channel,
            to=address,
            provider="twilio",
            summary=describe(message.text),
            request=request,
        )
        return _receipt(await self._sink.keep(capture))


def _inbox_twilio() -> tuple[Client, _RecordingTwilio]:
    recorder = _RecordingTwilio()
    return Client(INBOX_ACCOUNT_SID, _INBOX_TOKEN, http_client=recorder), recorder


_PLACEHOLDER = TwilioConfig(account_sid=INBOX_ACCOUNT_SID, auth_token=_INBOX_TOKEN)


class SmsInbox(SmsChannel):
    """SMS captured as the Twilio ``Messages`` request the SDK would have made."""

    config_type: ClassVar[type[msgspec.Struct]] = InboxConfig
    env_prefix: ClassVar[str] = "TIDINGS_INBOX_"
    provider: ClassVar[str] = INBOX_PROVIDER
    limits: ClassVar[Limits] = _without_rate(SmsChannel.limits)

    def __init__(self, config: InboxConfig, context: ChannelContext) -> None:
        super().__init__(_PLACEHOLDER, context)  # the sender is checked as the channel checks it

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """An SDK client over the recording HTTP client."""
        assert self.context.sender is not None
        client, recorder = _inbox_twilio()
        yield _TwilioCapture("sms", _SmsSender(client, self.context.sender), recorder, _sink(self.context))


class VoiceInbox(VoiceChannel):
    """Calls captured as the Twilio ``Calls`` request the SDK would have made, TwiML included."""

    config_type: ClassVar[type[msgspec.Struct]] = InboxConfig
    env_prefix: ClassVar[str] = "TIDINGS_INBOX_"
    provider: ClassVar[str] = INBOX_PROVIDER
    limits: ClassVar[Limits] = _without_rate(VoiceChannel.limits)

    def __init__(self, config: InboxConfig, context: ChannelContext) -> None:
        super().__init__(_PLACEHOLDER, context)  # the sender and the voice options are checked
        self.context = context

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """An SDK client over the recording HTTP client."""
        client, recorder = _inbox_twilio()
        sender = _VoiceSender(client, self.sender, self.voice, self.language, self.loop)
        yield _TwilioCapture("voice", sender, recorder, _sink(self.context))


class _PushCapture:
    def __init__(self, context: ChannelContext) -> None:
        self._intent = context.android_intent_action or None
        self._sink = _sink(context)

    async def send(self, message: Message, address: str) -> Receipt:
        if address.startswith("{"):
            payload = build_payload(message, self._intent)
            endpoint = json.loads(address)["endpoint"]
            request: dict[str, Any] = {
                "method": "POST",
                "url": endpoint,
                "headers": dict(_WEB_PUSH_HEADERS),
                "payload": json.loads(payload),
            }
            provider, raw = "webpush", payload
            to = urlsplit(endpoint).hostname or endpoint
        else:
            body = build_fcm_message(message, address, self._intent)
            url = f"{DEFAULT_API_BASE}/v1/projects/{{project}}/messages:send"
            request = {"method": "POST", "url": url, "json": body}
            provider, raw, to = "fcm", None, address
        capture = Capture(
            channel="push",
            to=to,
            provider=provider,
            summary=describe(message.subject),
            request=request,
            raw=raw,
        )
        return _receipt(await self._sink.keep(capture))


class PushInbox(PushChannel):
    """Pushes captured as the Web Push payload or the FCM message they would have been."""

    config_type: ClassVar[type[msgspec.Struct]] = InboxConfig
    env_prefix: ClassVar[str] = "TIDINGS_INBOX_"
    provider: ClassVar[str] = INBOX_PROVIDER

    def __init__(self, config: InboxConfig, context: ChannelContext) -> None:
        self.web_push = None
        self.fcm = None
        self.config = PushConfig()
        self.context = context

    def parse_address(self, raw: object) -> str:
        """A Web Push subscription (canonical JSON) or an FCM registration token: both are captured."""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if isinstance(raw, Mapping) or (isinstance(raw, str) and raw.lstrip().startswith(("{", "["))):
            return parse_subscription(raw)
        if not isinstance(raw, str):
            raise InvalidAddress(
                "push device token must be a Web Push subscription (object or JSON) "
                f"or an FCM registration token (string), got {type(raw).__name__}",
                code="invalid-address",
            )
        return parse_registration_token(raw)

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """Nothing to connect to."""
        yield _PushCapture(self.context)


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _checks: tuple[type[Channel], ...] = (EmailInbox, SmsInbox, VoiceInbox, PushInbox)
