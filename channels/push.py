"""The push channel: Web Push for browser subscriptions and FCM HTTP v1 for native apps' registration tokens.

The user's device token decides the provider: a Web Push subscription (an object, or its JSON) goes
through Web Push (channels.webpush), a registration-token string through FCM (channels.fcm); one batch,
and one dispatch, carries both. Either provider may be configured alone: a token whose provider is not
configured fails that delivery (when the audience is expanded) with an error naming what to set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import aiohttp
import msgspec

from channels.fcm import Fcm, load_service_account, parse_registration_token
from channels.webpush import MAX_PAYLOAD, WebPush, parse_subscription
from host.errors import ConfigurationError, InvalidAddress, PermanentChannelError
from host.plugins.channel import ChannelContext, Limits, Message, Receipt, Sender
from host.plugins.conventions import masked_fields, masked_repr

__all__ = ["MAX_PAYLOAD", "PushChannel", "PushConfig", "parse_subscription"]

_SECRETS = ("private_key", "fcm_service_account_json")
_URL = r"^https?://[^/\s]+(/.*)?$"
_FCM_MISSING = (
    "set FCM_SERVICE_ACCOUNT_FILE (or Mia's GOOGLE_APPLICATION_CREDENTIALS) or FCM_SERVICE_ACCOUNT_JSON"
)
_VAPID_MISSING = "set VAPID_PRIVATE_KEY and VAPID_SUBJECT"


class PushConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Web Push (``VAPID_*``) and FCM (``FCM_*``) settings of the push channel; either or both."""

    #: the FCM fields are read from these variables (first set wins), not from ``VAPID_<NAME>``
    env_variables: ClassVar[Mapping[str, tuple[str, ...]]] = MappingProxyType(
        {
            "fcm_service_account_file": ("FCM_SERVICE_ACCOUNT_FILE", "GOOGLE_APPLICATION_CREDENTIALS"),
            "fcm_service_account_json": ("FCM_SERVICE_ACCOUNT_JSON",),
            "fcm_project_id": ("FCM_PROJECT_ID",),
            "fcm_api_base": ("FCM_API_BASE",),
            "fcm_token_uri": ("FCM_TOKEN_URI",),
            "fcm_timeout": ("FCM_TIMEOUT",),
        }
    )

    #: the application server's P-256 private key: raw 32 bytes base64url, DER base64url, or PEM
    private_key: str | None = None
    #: contact for the push service operator: ``mailto:`` or ``https:`` URL
    subject: str | None = None
    #: seconds the push service keeps a message for an offline device
    ttl: Annotated[int, msgspec.Meta(ge=0, le=28 * 24 * 3600)] = 86400
    #: seconds for one whole request to the push service
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: path of the Firebase service account JSON (``FCM_SERVICE_ACCOUNT_FILE``)
    fcm_service_account_file: str | None = None
    #: the service account JSON itself (``FCM_SERVICE_ACCOUNT_JSON``), instead of a file
    fcm_service_account_json: str | None = None
    #: the Firebase project (default: the service account's ``project_id``)
    fcm_project_id: str | None = None
    #: replaces ``https://fcm.googleapis.com`` (a local fake, a proxy)
    fcm_api_base: Annotated[str, msgspec.Meta(pattern=_URL)] | None = None
    #: the OAuth token endpoint (default: the service account's ``token_uri``)
    fcm_token_uri: Annotated[str, msgspec.Meta(pattern=_URL)] | None = None
    #: seconds for one request to FCM or to the token endpoint
    fcm_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0

    def __repr__(self) -> str:
        return masked_repr(self, _SECRETS)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return masked_fields(self, _SECRETS)


def _web_push(config: PushConfig) -> WebPush | None:
    if not (config.private_key or config.subject):
        return None
    if not config.private_key:
        raise ConfigurationError("VAPID_PRIVATE_KEY", "required because VAPID_SUBJECT is set")
    if not config.subject:
        raise ConfigurationError("VAPID_SUBJECT", "required because VAPID_PRIVATE_KEY is set")
    if not config.subject.startswith(("mailto:", "https://")):
        raise ConfigurationError("VAPID_SUBJECT", "must be a mailto: or https: URL")
    try:
        return WebPush(config.private_key, config.subject, ttl=config.ttl, timeout=config.timeout)
    except Exception as exc:  # py_vapid raises whatever its decoders raise
        raise ConfigurationError("VAPID_PRIVATE_KEY", "is not a P-256 private key") from exc


def _fcm(config: PushConfig) -> Fcm | None:
    if not (config.fcm_service_account_file or config.fcm_service_account_json):
        return None
    info = load_service_account(
        file=config.fcm_service_account_file, json_text=config.fcm_service_account_json
    )
    return Fcm(
        info,
        project_id=config.fcm_project_id,
        api_base=config.fcm_api_base,
        token_uri=config.fcm_token_uri,
        timeout=config.fcm_timeout,
    )


class _PushSender:
    """Sends pushes over one aiohttp session, each through the provider its address belongs to."""

    def __init__(self, channel: PushChannel, session: aiohttp.ClientSession) -> None:
        self._channel = channel
        self._session = session

    async def send(self, message: Message, address: str) -> Receipt:
        """Deliver one push; a canonical subscription is JSON (``{...}``), anything else a token."""
        channel = self._channel
        intent = channel.context.android_intent_action or None
        if address.startswith("{"):
            if channel.web_push is None:
                raise PermanentChannelError(
                    f"Web Push is not configured: {_VAPID_MISSING}", code="webpush-not-configured"
                )
            return await channel.web_push.send(self._session, message, address, intent)
        if channel.fcm is None:
            raise PermanentChannelError(f"FCM is not configured: {_FCM_MISSING}", code="fcm-not-configured")
        return await channel.fcm.send(self._session, message, address, intent)


class PushChannel:
    """Push to browsers (Web Push, VAPID) and to native apps (FCM); the device token picks which."""

    name: ClassVar[str] = "push"
    address_field: ClassVar[str] = "deviceToken"
    config_type: ClassVar[type[msgspec.Struct]] = PushConfig
    env_prefix: ClassVar[str] = "VAPID_"
    # `data` from pushData: Mia's JSON string, rendered then parsed by the host (an object as it is)
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"subject": "pushTitle", "subtitle": "pushSubtitle", "text": "pushMessage", "data": "pushData"}
    )
    # as in Mia since 1.5, title and body are optional: a data-only push is fine, an empty one is not
    required: ClassVar[tuple[str, ...]] = ("subject|text|data",)
    html_fields: ClassVar[tuple[str, ...]] = ()
    needs_sender: ClassVar[bool] = False
    # Push services and FCM throttle per device and answer 429 with Retry-After; the Web Push payload
    # limit is checked on the whole encoded JSON at send time (MAX_PAYLOAD), not on the text alone.
    limits: ClassVar[Limits] = Limits(rate_per_second=None, batch_size=50, max_body_length=None)

    def __init__(self, config: PushConfig, context: ChannelContext) -> None:
        self.web_push = _web_push(config)
        self.fcm = _fcm(config)
        if self.web_push is None and self.fcm is None:
            raise ConfigurationError(
                "VAPID_PRIVATE_KEY",
                "required because 'push' is an active channel (with VAPID_SUBJECT, for Web Push; "
                "or FCM_SERVICE_ACCOUNT_FILE for FCM registration tokens)",
            )
        self.config = config
        self.context = context

    def parse_address(self, raw: object) -> str:
        """A subscription as canonical JSON or a registration token as is; else raise InvalidAddress.

        A token whose provider is not configured is refused here, naming the variables to set, so the
        delivery fails when the audience is expanded and the rest of the dispatch goes on.
        """
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if isinstance(raw, Mapping) or (isinstance(raw, str) and raw.lstrip().startswith(("{", "["))):
            address = parse_subscription(raw)
            if self.web_push is None:
                raise InvalidAddress(
                    f"a Web Push subscription, but Web Push is not configured: {_VAPID_MISSING}",
                    code="webpush-not-configured",
                )
            return address
        if not isinstance(raw, str):
            raise InvalidAddress(
                "push device token must be a Web Push subscription (object or JSON) "
                f"or an FCM registration token (string), got {type(raw).__name__}",
                code="invalid-address",
            )
        token = parse_registration_token(raw)
        if self.fcm is None:
            raise InvalidAddress(
                f"an FCM registration token, but FCM is not configured: {_FCM_MISSING}",
                code="fcm-not-configured",
            )
        return token

    async def startup(self) -> None:
        """Nothing to prepare: each batch opens its own session inside the running loop."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """Open one aiohttp session (one connection pool) for a batch, for both providers."""
        async with aiohttp.ClientSession() as session:
            yield _PushSender(self, session)

    async def shutdown(self) -> None:
        """Close the FCM token endpoint's connections."""
        if self.fcm is not None:
            self.fcm.close()


if TYPE_CHECKING:
    from host.plugins.channel import Channel

    _check: type[Channel] = PushChannel
