"""Kaleyra as a provider of the voice and SMS channels, over its HTTP API (``api.kaleyra.io/v1/<SID>``).

Requests are form-encoded POSTs authenticated by the ``api-key`` header, the account SID in the path
(Mia's ``KALEYRA_API_KEY``, ``KALEYRA_SID``, ``KALEYRA_BASE_URL``): a call is ``voice/outbound`` with
``to`` (the callee, digits with country code), ``bridge`` (the caller number registered in the Kaleyra
console: ``sender.voice``) and ``target`` (what the call does: one text-to-speech ``message``); an SMS is
``messages`` with ``to``, ``sender`` (a registered sender id: ``sender.sms``), ``type`` (the route,
``KALEYRA_SMS_TYPE``) and ``body``. Errors map like Twilio's: 429, 5xx and network failures are
transient (after ``Retry-After``); a refused number (the ``to`` field named in the error), refused
credentials and any other refusal are permanent. The mapping reads the HTTP status and the field the
error names, not Kaleyra's error codes, which we have no table of.

Selected in configuration as ``{"name": "kaleyra", "type": "kaleyra"}`` in ``channels.voice.providers``
(or ``sms``), or on its own when only ``KALEYRA_*`` is set (host.plugins.providers).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import quote

import aiohttp
import msgspec

from channels.sms import parse_phone_number
from host.errors import (
    ChannelError,
    ConfigurationError,
    InvalidAddress,
    PermanentChannelError,
    TransientChannelError,
)
from host.plugins.channel import ChannelContext, Limits, Message, Receipt, Sender
from host.plugins.conventions import masked_fields, masked_repr, retry_after_seconds

__all__ = ["KaleyraConfig", "KaleyraSms", "KaleyraVoice", "translate_kaleyra_error"]

PROVIDER = "kaleyra"
DEFAULT_BASE_URL = "https://api.kaleyra.io"
_VOICE_OPTIONS = ("voice", "language", "loop")  # the voice channel's options; Kaleyra's TTS takes none
_SENDER_ID = re.compile(r"^[A-Za-z0-9]{1,11}$")
_SMS_TYPES = ("DEFAULT", "MKT", "TXN", "OTP")


class KaleyraConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Kaleyra settings: ``KALEYRA_API_KEY``, ``KALEYRA_SID``, ``KALEYRA_BASE_URL`` ..."""

    api_key: str | None = None
    sid: str | None = None
    #: the API host (a regional one, or a local fake)
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+(/.*)?$")] = DEFAULT_BASE_URL
    #: seconds for one whole request
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    #: the SMS route type Kaleyra bills and routes by
    sms_type: str = "DEFAULT"

    def __repr__(self) -> str:
        return masked_repr(self, ("api_key",))

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return masked_fields(self, ("api_key",))


def _require_credentials(config: KaleyraConfig, channel: str) -> None:
    for variable, value in (("KALEYRA_API_KEY", config.api_key), ("KALEYRA_SID", config.sid)):
        if not value:
            raise ConfigurationError(
                variable, f"required because the {channel} channel sends through Kaleyra"
            )


def translate_kaleyra_error(status: int, text: str, retry_after: float | None) -> ChannelError:
    """Map an error answer of Kaleyra's API to a transient or permanent channel error."""
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    body = body if isinstance(body, Mapping) else {}
    errors = body.get("error")
    fields = errors if isinstance(errors, Mapping) else {}
    detail = str(body.get("message") or (errors if isinstance(errors, str) else "") or text[:200])
    if fields:
        detail += " (" + "; ".join(f"{key}: {value}" for key, value in fields.items()) + ")"
    code = str(body.get("code") or status)
    if status == 429:
        return TransientChannelError(f"Kaleyra rate limit: {detail}", code=code, retry_after=retry_after)
    if status >= 500 or status == 408:
        return TransientChannelError(
            f"Kaleyra unavailable ({status}): {detail}", code=code, retry_after=retry_after
        )
    if status in (401, 403):
        return PermanentChannelError(f"Kaleyra refused the API key or SID: {detail}", code=code)
    if "to" in fields:
        return PermanentChannelError(f"Kaleyra refused the number: {detail}", code=code)
    return PermanentChannelError(f"Kaleyra refused the request ({status}): {detail}", code=code)


def _receipt_id(body: object) -> str:
    """Kaleyra's id of the message or call: top-level ``id``, or the first ``data`` item's."""
    if isinstance(body, Mapping):
        if body.get("id"):
            return str(body["id"])
        data = body.get("data")
        first = data[0] if isinstance(data, list) and data else data
        if isinstance(first, Mapping):
            for key in ("id", "message_id"):
                if first.get(key):
                    return str(first[key])
    # accepted without an id: sending again would duplicate, so record our own
    return f"tidings-{uuid.uuid4().hex}"


class _KaleyraClient:
    """One account's API over one aiohttp session."""

    def __init__(self, config: KaleyraConfig, session: aiohttp.ClientSession) -> None:
        assert config.sid is not None and config.api_key is not None  # checked by the channels
        self._base = f"{config.base_url.rstrip('/')}/v1/{quote(config.sid, safe='')}"
        self._headers = {"api-key": config.api_key, "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._session = session

    async def post(self, path: str, form: Mapping[str, str]) -> Receipt:
        """POST a form to ``<base>/v1/<SID>/<path>``; a 2xx answer's id is the receipt."""
        try:
            async with self._session.post(
                f"{self._base}/{path}", data=dict(form), headers=self._headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                status = response.status
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise TransientChannelError("Kaleyra did not answer in time", code="timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientChannelError(f"cannot reach Kaleyra: {exc}", code="connection") from exc
        if not 200 <= status < 300:
            raise translate_kaleyra_error(status, text, retry_after)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        return Receipt(provider_id=_receipt_id(body), provider=PROVIDER)


class _VoiceSender:
    def __init__(self, client: _KaleyraClient, bridge: str) -> None:
        self._client = client
        self._bridge = bridge

    async def send(self, message: Message, address: str) -> Receipt:
        """Place one outbound call that reads the message (Kaleyra's text-to-speech ``message`` target)."""
        if not message.text:
            raise PermanentChannelError("the voice message is empty", code="empty-body")
        target = json.dumps([{"message": message.text}], ensure_ascii=False)
        form = {"to": address.removeprefix("+"), "bridge": self._bridge, "target": target}
        return await self._client.post("voice/outbound", form)


class _SmsSender:
    def __init__(self, client: _KaleyraClient, sender: str, route: str) -> None:
        self._client = client
        self._sender = sender
        self._route = route

    async def send(self, message: Message, address: str) -> Receipt:
        """Send one SMS through ``messages``."""
        if not message.text:
            raise PermanentChannelError("the SMS text is empty", code="empty-body")
        form = {"to": address, "sender": self._sender, "type": self._route, "body": message.text}
        return await self._client.post("messages", form)


class _KaleyraProvider:
    """What both Kaleyra providers share: credentials, addresses, one session per batch."""

    address_field: ClassVar[str] = "phoneNumber"
    config_type: ClassVar[type[msgspec.Struct]] = KaleyraConfig
    env_prefix: ClassVar[str] = "KALEYRA_"
    required: ClassVar[tuple[str, ...]] = ("text",)
    html_fields: ClassVar[tuple[str, ...]] = ()
    needs_sender: ClassVar[bool] = True
    config: KaleyraConfig

    def parse_address(self, raw: object) -> str:
        """Return the E.164 number, or raise InvalidAddress."""
        return parse_phone_number(raw)

    async def startup(self) -> None:
        """Nothing to prepare: each batch opens its own session inside the running loop."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _sender(self, client: _KaleyraClient) -> Sender:
        raise NotImplementedError

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """Open one aiohttp session (one connection pool) for a batch."""
        async with aiohttp.ClientSession() as session:
            yield self._sender(_KaleyraClient(self.config, session))


class KaleyraVoice(_KaleyraProvider):
    """Voice calls through Kaleyra; ``sender.voice`` is the bridge number registered with Kaleyra."""

    name: ClassVar[str] = "voice"
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "voiceMessage"})
    # No rate: Kaleyra publishes none for outbound calls; its 429s are retried after Retry-After.
    limits: ClassVar[Limits] = Limits(rate_per_second=None, batch_size=50, max_body_length=3500)
    #: who sends its messages, as deliveries and statistics name it
    provider: ClassVar[str] = PROVIDER

    def __init__(self, config: KaleyraConfig, context: ChannelContext) -> None:
        _require_credentials(config, self.name)
        try:
            self.bridge = parse_phone_number(context.sender).removeprefix("+")
        except InvalidAddress as exc:
            raise ConfigurationError("sender.voice", exc.message) from exc
        for key in context.options:
            if key not in _VOICE_OPTIONS:
                raise ConfigurationError(
                    f"channels.voice.{key}", f"unknown option (known: {', '.join(_VOICE_OPTIONS)})"
                )
        self.config = config

    def _sender(self, client: _KaleyraClient) -> Sender:
        return _VoiceSender(client, self.bridge)


class KaleyraSms(_KaleyraProvider):
    """SMS through Kaleyra; ``sender.sms`` is a sender id registered with Kaleyra (or a number)."""

    name: ClassVar[str] = "sms"
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "smsMessage"})
    limits: ClassVar[Limits] = Limits(rate_per_second=None, batch_size=50, max_body_length=1600)
    #: who sends its messages, as deliveries and statistics name it
    provider: ClassVar[str] = PROVIDER

    def __init__(self, config: KaleyraConfig, context: ChannelContext) -> None:
        _require_credentials(config, self.name)
        sender = context.sender or ""
        if not _SENDER_ID.match(sender):
            try:
                sender = parse_phone_number(sender)
            except InvalidAddress as exc:
                raise ConfigurationError(
                    "sender.sms", "must be a Kaleyra sender id (1-11 letters and digits) or an E.164 number"
                ) from exc
        if config.sms_type not in _SMS_TYPES:
            raise ConfigurationError("KALEYRA_SMS_TYPE", f"must be one of {', '.join(_SMS_TYPES)}")
        self.sender = sender
        self.config = config

    def _sender(self, client: _KaleyraClient) -> Sender:
        return _SmsSender(client, self.sender, self.config.sms_type)


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _voice: type[Channel] = KaleyraVoice
    _sms: type[Channel] = KaleyraSms
