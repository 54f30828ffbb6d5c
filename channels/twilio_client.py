"""The Twilio connection shared by the SMS and voice channels: configuration, HTTP client, error mapping.

The official SDK's async client is built on aiohttp, so it must be created inside a running event loop
and closed there: :func:`open_twilio_client` does both. :func:`await_twilio` turns whatever the SDK
raises into the channel error tree (transient: 429, 5xx, network; permanent: everything else).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar, cast

import aiohttp
import msgspec
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

# the SDK imports its REST resources lazily, on the first send (~0.3 s of imports on the event loop):
# import them with the channel, so a rate-limited first send is not late for its slot
import twilio.rest.api.v2010.account  # noqa: F401  isort: skip

from host.errors import ChannelError, ConfigurationError, PermanentChannelError, TransientChannelError
from host.plugins.conventions import masked_fields, masked_repr, retry_after_seconds

__all__ = [
    "PROVIDER",
    "RoutedTwilioHttpClient",
    "TwilioConfig",
    "await_twilio",
    "open_twilio_client",
    "require_credentials",
    "translate_twilio_error",
]

PROVIDER = "twilio"
T = TypeVar("T")

_TWILIO_URL = re.compile(r"^https://(?:[A-Za-z0-9-]+\.)*twilio\.com(?=/|$)")
# Codes that mean "this number will never take this message"; the rest of 4xx is permanent too,
# these only get a clearer message.
_ADDRESS_CODES = {
    21211: "invalid 'To' phone number",
    21214: "'To' phone number cannot be reached",
    21217: "phone number does not appear to be valid",
    21408: "sending to this region is not enabled on the account",
    21610: "the recipient has unsubscribed (replied STOP)",
    21612: "Twilio cannot route to this number",
    21614: "'To' is not a valid mobile number",
    13223: "invalid phone number format for a call",
}
_AUTH_CODES = {20003, 20005}  # 20005: account not active
_RATE_LIMIT_CODES = {20429, 14107}

# The SDK builds TwilioRestException from the body alone and drops the headers, so the client records
# the last Retry-After of the current task here; a task awaits the SDK directly, so it reads its own.
_retry_after: ContextVar[float | None] = ContextVar("twilio_retry_after", default=None)


class TwilioConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Twilio credentials, read from ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_API_BASE``."""

    account_sid: str | None = None
    auth_token: str | None = None
    #: replaces ``https://*.twilio.com`` in every request URL (the local fake, a proxy)
    api_base: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+(/.*)?$")] | None = None
    #: seconds for one whole request (connect, send, read)
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    #: ``TWILIO_STATUS_CALLBACK``: the URL Twilio posts message and call statuses to (Tidings' public
    #: ``/twilio/status``); unset, no callback is asked for
    status_callback: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+(/.*)?$")] | None = None

    def __repr__(self) -> str:
        return masked_repr(self, ("auth_token",))

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return masked_fields(self, ("auth_token",))


def require_credentials(config: TwilioConfig, channel: str) -> None:
    """Refuse to build a Twilio channel without an account SID and auth token."""
    if not config.account_sid:
        raise ConfigurationError("TWILIO_ACCOUNT_SID", f"required because {channel!r} is an active channel")
    if not config.auth_token:
        raise ConfigurationError("TWILIO_AUTH_TOKEN", f"required because {channel!r} is an active channel")


class RoutedTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp client, pointed at ``api_base`` and honouring its own timeout.

    ``request`` is re-implemented rather than wrapped: the SDK's version ignores the client timeout
    (aiohttp then waits forever) and uses ``aiohttp.BasicAuth``, deprecated in aiohttp 3.14.
    """

    def __init__(self, *, api_base: str | None = None, timeout: float = 15.0) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.api_base = api_base.rstrip("/") if api_base else None

    def route(self, url: str) -> str:
        """Return ``url`` with its Twilio origin replaced by ``api_base``, when one is set."""
        if self.api_base is None:
            return url
        return _TWILIO_URL.sub(self.api_base, url, count=1)

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
        """Send one request; record Retry-After for :func:`await_twilio`."""
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        total = timeout if timeout is not None else self.timeout
        session: aiohttp.ClientSession = self.session
        async with session.request(
            method.upper(),
            self.route(url),
            params=cast(Any, params),
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=total),
            allow_redirects=allow_redirects,
        ) as response:
            text = await response.text()
        _retry_after.set(retry_after_seconds(response.headers.get("Retry-After")))
        return Response(response.status, text, response.headers)


@asynccontextmanager
async def open_twilio_client(config: TwilioConfig) -> AsyncIterator[Client]:
    """Yield an async-capable ``twilio.rest.Client``; must be entered inside the running loop."""
    http_client = RoutedTwilioHttpClient(api_base=config.api_base, timeout=config.timeout)
    try:
        yield Client(config.account_sid, config.auth_token, http_client=http_client)
    finally:
        await http_client.close()


def translate_twilio_error(
    exc: TwilioRestException | TwilioServiceException, retry_after: float | None = None
) -> ChannelError:
    """Map an error answer of the Twilio API to a transient or permanent channel error."""
    status = int(exc.status or 0)
    code: Any = exc.code
    detail = str(getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", ""))
    code_text = str(code) if code is not None else str(status)
    if status == 429 or code in _RATE_LIMIT_CODES:
        return TransientChannelError(f"Twilio rate limit: {detail}", code=code_text, retry_after=retry_after)
    if status >= 500 or status == 408:
        return TransientChannelError(f"Twilio unavailable ({status}): {detail}", code=code_text)
    if code in _AUTH_CODES or status in (401, 403):
        return PermanentChannelError(f"Twilio refused the credentials: {detail}", code=code_text)
    if code in _ADDRESS_CODES:
        return PermanentChannelError(f"{_ADDRESS_CODES[code]}: {detail}", code=code_text)
    return PermanentChannelError(f"Twilio refused the request ({status}): {detail}", code=code_text)


async def await_twilio(operation: Awaitable[T]) -> T:
    """Await one SDK call, raising channel errors instead of SDK and network exceptions."""
    token = _retry_after.set(None)
    try:
        return await operation
    except (TwilioRestException, TwilioServiceException) as exc:
        raise translate_twilio_error(exc, _retry_after.get()) from exc
    except TimeoutError as exc:
        raise TransientChannelError("Twilio did not answer in time", code="timeout") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise TransientChannelError(f"cannot reach Twilio: {exc}", code="connection") from exc
    finally:
        _retry_after.reset(token)
