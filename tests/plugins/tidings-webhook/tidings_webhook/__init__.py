"""A webhook channel for Tidings: each message is POSTed as JSON to the URL in ``WEBHOOK_URL``.

A third-party plugin: it only imports the public protocol (``host.channel``, ``host.errors``) and joins
Tidings through the ``tidings.channels`` entry point declared in its own pyproject.toml.
The user's address is a handle (``webhookHandle`` on the user document), sent as ``to``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from types import MappingProxyType
from typing import Annotated, ClassVar

import httpx
import msgspec

from host.channel import ChannelContext, Limits, Message, Receipt, Sender
from host.errors import (
    ConfigurationError,
    InvalidAddress,
    PermanentChannelError,
    TransientChannelError,
)

__all__ = ["WebhookChannel", "WebhookConfig", "parse_handle"]

_HANDLE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")
_MAX_RETRY_AFTER = 3600.0


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True):
    """From ``WEBHOOK_URL``, ``WEBHOOK_TOKEN``, ``WEBHOOK_TIMEOUT``."""

    url: str | None = None
    token: str | None = None
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0

    def __repr__(self) -> str:
        token = "***" if self.token else None  # the token never reaches a log line
        return f"WebhookConfig(url={self.url!r}, token={token}, timeout={self.timeout})"


def parse_handle(raw: object) -> str:
    """Return the handle (1-200 characters, no spaces or control characters), or raise InvalidAddress."""
    if not isinstance(raw, str) or not _HANDLE.match(raw.strip()):
        raise InvalidAddress("webhook handle must be 1-200 characters without spaces", code="invalid-address")
    return raw.strip()


def _retry_after(value: str | None) -> float | None:
    try:
        return min(_MAX_RETRY_AFTER, max(0.0, float(value))) if value else None
    except ValueError:
        return None


class _WebhookSender:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._url = url

    async def send(self, message: Message, address: str) -> Receipt:
        """POST one message; the receiver's ``id`` (or Location) is the receipt."""
        body = {"to": address, "title": message.subject, "text": message.text, "data": message.data}
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.TimeoutException as exc:
            raise TransientChannelError("the webhook did not answer in time", code="timeout") from exc
        except httpx.TransportError as exc:
            raise TransientChannelError(f"cannot reach the webhook: {exc}", code="connection") from exc
        status = response.status_code
        if status == 429 or status == 408 or status >= 500:
            raise TransientChannelError(
                f"the webhook answered {status}",
                code=str(status),
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if not 200 <= status < 300:
            raise PermanentChannelError(f"the webhook refused the message ({status})", code=str(status))
        provider_id = response.headers.get("Location")
        with suppress(ValueError, AttributeError):  # a receiver may answer without a JSON object
            provider_id = str(response.json().get("id") or provider_id or "")
        return Receipt(provider_id=provider_id or f"webhook-{uuid.uuid4().hex}", provider="webhook")


class WebhookChannel:
    """Messages as JSON to one webhook URL."""

    name: ClassVar[str] = "webhook"
    address_field: ClassVar[str] = "webhookHandle"
    config_type: ClassVar[type[msgspec.Struct]] = WebhookConfig
    env_prefix: ClassVar[str] = "WEBHOOK_"
    template_fields: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"subject": "webhookTitle", "text": "webhookMessage"}
    )
    required: ClassVar[tuple[str, ...]] = ("text",)
    html_fields: ClassVar[tuple[str, ...]] = ()
    needs_sender: ClassVar[bool] = False
    limits: ClassVar[Limits] = Limits(rate_per_second=None, batch_size=20)

    def __init__(self, config: WebhookConfig, context: ChannelContext) -> None:
        if not config.url or not config.url.startswith(("http://", "https://")):
            raise ConfigurationError("WEBHOOK_URL", "required (an http(s) URL) because 'webhook' is active")
        self.config = config
        self.context = context

    def parse_address(self, raw: object) -> str:
        """Return the handle, or raise InvalidAddress."""
        return parse_handle(raw)

    async def startup(self) -> None:
        """Nothing to prepare."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Sender]:
        """One HTTP client (connection pool) per batch."""
        assert self.config.url is not None
        headers = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}
        async with httpx.AsyncClient(timeout=self.config.timeout, headers=headers) as client:
            yield _WebhookSender(client, self.config.url)

    async def shutdown(self) -> None:
        """Nothing to release."""
