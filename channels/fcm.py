"""Firebase Cloud Messaging (HTTP v1): the push channel's provider for native apps' registration tokens.

Authentication is OAuth 2.0 with a service account, through google-auth: the account's key signs a JWT
assertion (RS256), the token endpoint trades it for a bearer token, and the token is refreshed when it
is about to expire (google-auth's threshold) or when FCM answers 401. The refresh is a blocking call
into google-auth's ``requests`` transport, made in a worker thread, about once an hour.

What is sent for a rendered message (``message`` of ``projects.messages:send``): ``notification``
title/body from the push title and body; ``data`` from the template's ``pushData`` with every value a
string (FCM refuses others: non-strings are sent as their JSON); the ``android`` and ``apns`` blocks of
``pushData`` passed through as they are; ``androidIntentAction`` as ``android.notification.click_action``
(unless the block sets it); the push subtitle as APNs ``aps.alert.subtitle`` (FCM's notification has
none). FCM errors map to channel errors: ``UNREGISTERED`` (404) and an ``INVALID_ARGUMENT`` about the
token mean the token is gone; 429, 500 and 503 are transient (after ``Retry-After``); 401 refreshes the
access token once.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import google.auth.exceptions
import requests
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account

from host.errors import (
    ChannelError,
    ConfigurationError,
    InvalidAddress,
    PermanentChannelError,
    TransientChannelError,
)
from host.plugins.channel import Message, Receipt
from host.plugins.conventions import retry_after_seconds

__all__ = [
    "DEFAULT_API_BASE",
    "FCM_SCOPE",
    "Fcm",
    "build_fcm_message",
    "load_service_account",
    "parse_registration_token",
]

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEFAULT_API_BASE = "https://fcm.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)
PROVIDER = "fcm"

# registration tokens are opaque: FCM's are ~150-200 characters of base64url and ':'; anything with
# spaces, quotes or braces is no token (and braces mean a Web Push subscription)
_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]{20,4096}")
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def parse_registration_token(raw: str) -> str:
    """Return an FCM registration token as it is sent (trimmed), or raise InvalidAddress."""
    token = raw.strip()
    if not _TOKEN.fullmatch(token):
        raise InvalidAddress(
            "push device token is neither a Web Push subscription nor an FCM registration token",
            code="invalid-address",
        )
    return token


def load_service_account(*, file: str | None, json_text: str | None) -> dict[str, Any]:
    """The service account JSON from a file path or from the variable itself; errors name the variable."""
    if file and json_text:
        raise ConfigurationError(
            "FCM_SERVICE_ACCOUNT_JSON", "set either it or FCM_SERVICE_ACCOUNT_FILE, not both"
        )
    variable = "FCM_SERVICE_ACCOUNT_FILE" if file else "FCM_SERVICE_ACCOUNT_JSON"
    if file:
        try:
            json_text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(variable, f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        info = json.loads(json_text or "")
    except ValueError as exc:
        raise ConfigurationError(variable, "is not a service account JSON (not valid JSON)") from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigurationError(variable, 'is not a service account JSON ("type": "service_account")')
    missing = [key for key in ("client_email", "private_key") if not info.get(key)]
    if missing:
        raise ConfigurationError(variable, f"service account JSON lacks {', '.join(missing)}")
    return info


class _TimedRequest(GoogleRequest):
    """google-auth's requests transport with our timeout instead of its two minutes."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        super().__init__(session=session)
        self._timeout = timeout

    def __call__(
        self,
        url: Any,
        method: Any = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        return super().__call__(  # type: ignore[no-untyped-call]
            url, method=method, body=body, headers=headers, timeout=self._timeout, **kwargs
        )


class _AccessTokens:
    """Bearer tokens of one service account; refreshed in a thread when expired or refused."""

    def __init__(self, info: Mapping[str, Any], *, token_uri: str, timeout: float) -> None:
        try:
            self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                {**info, "token_uri": token_uri}, scopes=[FCM_SCOPE]
            )
        except ValueError as exc:  # a private key google-auth cannot load
            raise ConfigurationError("FCM_SERVICE_ACCOUNT_FILE", f"service account key: {exc}") from exc
        self._session = requests.Session()
        self._request = _TimedRequest(self._session, timeout)
        # one refresh at a time across the worker's threads; the others then reuse its token
        self._lock = threading.Lock()

    def current(self, stale: str | None = None) -> str:
        """A valid token (blocking): refreshed if expired, or if it is still ``stale`` (refused by FCM)."""
        with self._lock:
            credentials = self._credentials
            if not credentials.valid or (stale is not None and credentials.token == stale):
                credentials.refresh(self._request)
            token: str = credentials.token
            return token

    def close(self) -> None:
        """Close the token endpoint's connection pool."""
        self._session.close()


def _string(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _block(data: dict[str, Any], key: str) -> dict[str, Any]:
    block = data.pop(key, None)
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise PermanentChannelError(f"pushData.{key} must be an object", code="invalid-push-data")
    return dict(block)


def _with_subtitle(apns: dict[str, Any], subtitle: str) -> dict[str, Any]:
    payload = dict(apns.get("payload") or {})
    aps = dict(payload.get("aps") or {})
    alert = aps.get("alert")
    if isinstance(alert, str):  # the template wrote the whole alert as text: leave it alone
        return apns
    aps["alert"] = {"subtitle": subtitle, **(alert or {})}
    return {**apns, "payload": {**payload, "aps": aps}}


def build_fcm_message(message: Message, token: str, intent: str | None) -> dict[str, Any]:
    """The body of ``messages:send`` for one rendered message and one registration token."""
    data = dict(message.data)
    android = _block(data, "android")
    apns = _block(data, "apns")
    body: dict[str, Any] = {"token": token}
    notification = {
        key: value for key, value in (("title", message.subject), ("body", message.text)) if value
    }
    if notification:
        body["notification"] = notification
    if data:
        body["data"] = {str(key): _string(value) for key, value in data.items()}
    if intent:
        note = dict(android.get("notification") or {})
        if "click_action" not in note and "clickAction" not in note:
            note["click_action"] = intent
        android["notification"] = note
    if message.subtitle:
        apns = _with_subtitle(apns, message.subtitle)
    if android:
        body["android"] = android
    if apns:
        body["apns"] = apns
    return {"message": body}


def _error_parts(text: str) -> tuple[str, str, str | None, list[str]]:
    """(status, message, FCM error code, fields named by violations) of a Google API error body."""
    try:
        error = json.loads(text).get("error") or {}
    except (ValueError, AttributeError):
        return "", text[:200], None, []
    code = None
    fields: list[str] = []
    for detail in error.get("details") or []:
        if not isinstance(detail, Mapping):
            continue
        if detail.get("@type") == _FCM_ERROR:
            code = detail.get("errorCode")
        elif detail.get("@type") == _BAD_REQUEST:
            fields += [
                str(v.get("field")) for v in detail.get("fieldViolations") or [] if isinstance(v, Mapping)
            ]
    return str(error.get("status") or ""), str(error.get("message") or ""), code, fields


def translate_fcm_error(status: int, text: str, retry_after: float | None) -> tuple[ChannelError, bool]:
    """The channel error for an FCM error answer, and whether a fresh access token may fix it."""
    state, detail, code, fields = _error_parts(text)
    label = code or state or str(status)
    where = f"FCM {status} {label}: {detail}".rstrip(": ")
    if code == "UNREGISTERED" or (status == 404 and code is None):
        return PermanentChannelError(
            f"FCM registration token is gone ({where})", code=label, address_gone=True
        ), False
    if status == 400 and ("message.token" in fields or "registration token" in detail.lower()):
        return PermanentChannelError(
            f"FCM registration token is invalid ({where})", code=label, address_gone=True
        ), False
    if status == 429 or code == "QUOTA_EXCEEDED":
        return TransientChannelError(
            f"FCM quota exceeded ({where})", code=label, retry_after=retry_after
        ), False
    if status >= 500 or status == 408 or code in ("UNAVAILABLE", "INTERNAL"):
        return TransientChannelError(f"FCM unavailable ({where})", code=label, retry_after=retry_after), False
    if status == 401 and code != "THIRD_PARTY_AUTH_ERROR":
        return PermanentChannelError(f"FCM refused the access token ({where})", code=label), True
    return PermanentChannelError(f"FCM refused the message ({where})", code=label), False


def _token_error(exc: Exception) -> ChannelError:
    if isinstance(exc, google.auth.exceptions.RefreshError) and not exc.retryable:
        reason = exc.args[0] if exc.args else exc
        return PermanentChannelError(
            f"the OAuth token endpoint refused the FCM service account: {reason}", code="fcm-auth"
        )
    return TransientChannelError(f"cannot get an FCM access token: {exc}", code="fcm-auth-unavailable")


class Fcm:
    """Sends to registration tokens through one Firebase project with one service account."""

    def __init__(
        self,
        info: Mapping[str, Any],
        *,
        project_id: str | None = None,
        api_base: str | None = None,
        token_uri: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        project = project_id or info.get("project_id")
        if not project:
            raise ConfigurationError("FCM_PROJECT_ID", "required: the service account JSON has no project_id")
        self.project_id = str(project)
        self.url = (
            f"{(api_base or DEFAULT_API_BASE).rstrip('/')}/v1/projects/{quote(self.project_id, safe='')}"
            "/messages:send"
        )
        self.timeout = timeout
        self._tokens = _AccessTokens(
            info, token_uri=token_uri or info.get("token_uri") or DEFAULT_TOKEN_URI, timeout=timeout
        )

    async def _access_token(self, stale: str | None = None) -> str:
        try:
            return await asyncio.to_thread(self._tokens.current, stale)
        except (google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
            raise _token_error(exc) from exc

    async def _post(
        self, session: aiohttp.ClientSession, body: bytes, token: str
    ) -> tuple[int, str, float | None]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=UTF-8"}
        try:
            async with session.post(
                self.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                text = await response.text()
                return response.status, text, retry_after_seconds(response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise TransientChannelError("FCM did not answer in time", code="timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientChannelError(f"cannot reach FCM: {exc}", code="connection") from exc

    async def send(
        self, session: aiohttp.ClientSession, message: Message, token: str, intent: str | None
    ) -> Receipt:
        """Send one message; FCM's message name (``projects/<id>/messages/<n>``) is the receipt."""
        body = json.dumps(build_fcm_message(message, token, intent), ensure_ascii=False).encode()
        access = await self._access_token()
        status, text, retry_after = await self._post(session, body, access)
        if status != 200:
            error, refresh = translate_fcm_error(status, text, retry_after)
            if not refresh:
                raise error
            # the token was revoked or expired early: one fresh token, one more try
            access = await self._access_token(stale=access)
            status, text, retry_after = await self._post(session, body, access)
            if status != 200:
                raise translate_fcm_error(status, text, retry_after)[0]
        try:
            name = str(json.loads(text)["name"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientChannelError("FCM answered 200 without a message name", code="200") from exc
        return Receipt(provider_id=name, provider=PROVIDER)

    def close(self) -> None:
        """Release the token endpoint's connections."""
        self._tokens.close()
