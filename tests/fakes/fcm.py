"""A fake of Firebase Cloud Messaging HTTP v1 and of Google's OAuth token endpoint, on 127.0.0.1.

``fake.service_account()`` mints a service account (its own RSA key) whose ``token_uri`` is this server.
The token endpoint checks the JWT bearer grant as Google does: an RS256 signature by the account's key
(``kid`` = its ``private_key_id``), ``iss`` the account, ``aud`` ``https://oauth2.googleapis.com/token``,
a FCM or cloud-platform ``scope``, ``iat``/``exp`` now and at most an hour apart; then it issues a bearer
token. ``POST /v1/projects/<id>/messages:send`` checks that token (issued, not expired or revoked, for an
account of that project) and the message as FCM validates it: known keys only, exactly one target, data
and header values strings, no reserved data keys. It answers like FCM: ``{"name": ...}``, or Google API
error bodies with FCM error codes (``UNREGISTERED`` for a token unregistered with ``unregister()``,
``INVALID_ARGUMENT`` on ``message.token`` for one it never issued). Scripted answers (429 + Retry-After,
503 ...) replace the next ones, globally or for one device token.

By hand: ``python -m tests.fakes.fcm --port 8023`` (writes a service account file, prints the variables).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import json
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.http_server import LoopbackFake, Receive, Send, read_body, respond, serve_forever

__all__ = ["FakeFcm", "FcmReceived", "ScriptedFcm", "TokenRequest"]

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
SCOPES = {
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_SKEW = 300

# field names FCM's proto JSON accepts (both lowerCamel and the proto's own snake_case)
_BODY_KEYS = {"message", "validate_only", "validateOnly"}
_TARGETS = ("token", "topic", "condition")
_MESSAGE_KEYS = {
    "name",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
    "fcmOptions",
    *_TARGETS,
}
_NOTIFICATION_KEYS = {"title", "body", "image"}
_ANDROID_KEYS = {
    "collapse_key", "collapseKey", "priority", "ttl", "restricted_package_name", "restrictedPackageName",
    "data", "notification", "fcm_options", "fcmOptions", "direct_boot_ok", "directBootOk",
}  # fmt: skip
_ANDROID_NOTIFICATION_KEYS = {
    "title", "body", "icon", "color", "sound", "tag", "click_action", "clickAction", "body_loc_key",
    "bodyLocKey", "body_loc_args", "bodyLocArgs", "title_loc_key", "titleLocKey", "title_loc_args",
    "titleLocArgs", "channel_id", "channelId", "ticker", "sticky", "event_time", "eventTime", "local_only",
    "localOnly", "notification_priority", "notificationPriority", "default_sound", "defaultSound",
    "default_vibrate_timings", "defaultVibrateTimings", "default_light_settings", "defaultLightSettings",
    "vibrate_timings", "vibrateTimings", "visibility", "notification_count", "notificationCount",
    "light_settings", "lightSettings", "image", "bypass_proxy_notification", "bypassProxyNotification",
    "proxy",
}  # fmt: skip
_APNS_KEYS = {"headers", "payload", "fcm_options", "fcmOptions", "live_activity_token", "liveActivityToken"}
_RESERVED_DATA = {"from", "notification", "message_type"}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}  # fmt: skip
_FCM_CODES = {
    400: "INVALID_ARGUMENT",
    404: "UNREGISTERED",
    429: "QUOTA_EXCEEDED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ScriptedFcm:
    """An answer FCM gives instead of sending (an FCM error of that status)."""

    status: int
    retry_after: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class TokenRequest:
    """One grant request to the token endpoint, with the verified claims when it was accepted."""

    status: int
    claims: dict[str, Any] | None
    reason: str = ""


@dataclass(frozen=True)
class FcmReceived:
    """One ``messages:send`` request as the fake saw it."""

    project_id: str | None
    status: int
    body: dict[str, Any] | None
    name: str | None = None
    reason: str = ""

    @property
    def message(self) -> dict[str, Any]:
        assert self.body is not None, f"no body ({self.status} {self.reason})"
        message: dict[str, Any] = self.body["message"]
        return message

    @property
    def token(self) -> str | None:
        return self.message.get("token") if self.body else None


@dataclass
class _Account:
    email: str
    project_id: str
    key_id: str
    public_key: rsa.RSAPublicKey


@dataclass
class _Grant:
    account: _Account
    expires_at: float
    revoked: bool = False


@dataclass
class _State:
    grants: dict[str, _Grant] = field(default_factory=dict)
    token_requests: list[TokenRequest] = field(default_factory=list)
    received: list[FcmReceived] = field(default_factory=list)
    script: collections.deque[ScriptedFcm] = field(default_factory=collections.deque)
    device_scripts: dict[str, collections.deque[ScriptedFcm]] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(
        self, status: int, message: str, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.field = field


def _error_body(
    status: int, message: str, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    if code is not None:
        details.append({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code})
    if field is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}],
            }
        )
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def _only_keys(value: object, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Refused(
            400, f"Invalid value at '{where}': must be an object", code="INVALID_ARGUMENT", field=where
        )
    for key in value:
        if key not in allowed:
            raise _Refused(
                400,
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.",
                field=where,
            )
    return value


def _string_map(value: object, where: str) -> None:
    if not isinstance(value, dict):
        raise _Refused(
            400, f"Invalid value at '{where}': must be a map", code="INVALID_ARGUMENT", field=where
        )
    for index, (key, item) in enumerate(value.items()):
        if not isinstance(item, str):
            raise _Refused(
                400,
                f"Invalid value at '{where}[{index}].value' (TYPE_STRING), {json.dumps(item)}",
                code="INVALID_ARGUMENT",
                field=f"{where}[{index}].value",
            )
        if where == "message.data" and (key in _RESERVED_DATA or key.startswith(("google", "gcm"))):
            raise _Refused(400, "Invalid data payload key: " + key, code="INVALID_ARGUMENT", field=where)


def _validate(body: object) -> dict[str, Any]:
    """Check a send request as FCM does; return its message."""
    body = _only_keys(body, _BODY_KEYS, "")
    if "message" not in body:
        raise _Refused(
            400, "Request contains an invalid argument: message is required", code="INVALID_ARGUMENT"
        )
    message = _only_keys(body["message"], _MESSAGE_KEYS, "message")
    targets = [key for key in _TARGETS if key in message]
    if len(targets) != 1:
        raise _Refused(
            400,
            "Exactly one of token, topic or condition must be set",
            code="INVALID_ARGUMENT",
            field="message",
        )
    if "data" in message:
        _string_map(message["data"], "message.data")
    if "notification" in message:
        notification = _only_keys(message["notification"], _NOTIFICATION_KEYS, "message.notification")
        for key, value in notification.items():
            if not isinstance(value, str):
                raise _Refused(400, f"Invalid value at 'message.notification.{key}' (TYPE_STRING)", field=key)
    if "android" in message:
        android = _only_keys(message["android"], _ANDROID_KEYS, "message.android")
        if "data" in android:
            _string_map(android["data"], "message.android.data")
        if "notification" in android:
            _only_keys(android["notification"], _ANDROID_NOTIFICATION_KEYS, "message.android.notification")
        priority = android.get("priority")
        if priority is not None and str(priority).upper() not in ("NORMAL", "HIGH"):
            raise _Refused(
                400, f"Invalid value at 'message.android.priority', {priority!r}", field="priority"
            )
    if "apns" in message:
        apns = _only_keys(message["apns"], _APNS_KEYS, "message.apns")
        if "headers" in apns:
            _string_map(apns["headers"], "message.apns.headers")
        payload = apns.get("payload", {})
        if not isinstance(payload, dict) or not isinstance(payload.get("aps", {}), dict):
            raise _Refused(400, "Invalid APNs payload", code="INVALID_ARGUMENT", field="message.apns.payload")
    return message


class FakeFcm(LoopbackFake):
    """FCM's ``messages:send`` and Google's token endpoint, served by uvicorn on a free port."""

    def __init__(self, *, port: int = 0, token_lifetime: int = 3599) -> None:
        super().__init__(port=port)
        #: ``expires_in`` of issued access tokens (google-auth refreshes those with under ~4 min left)
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._devices: dict[str, bool] = {}  # token -> registered
        self._state = _State()

    # -- test API ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to use as ``FCM_API_BASE``."""
        return self.base_url

    @property
    def token_uri(self) -> str:
        """The token endpoint (a service account's ``token_uri``, or ``FCM_TOKEN_URI``)."""
        return f"{self.base_url}/token"

    def service_account(
        self, project_id: str = "tidings-test", *, token_uri: str | None = None
    ) -> dict[str, Any]:
        """A new service account of ``project_id`` (the JSON a Firebase console hands out)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        email = f"fcm-{secrets.token_hex(4)}@{project_id}.iam.gserviceaccount.com"
        with self._lock:
            self._accounts[email] = _Account(email, project_id, key_id, key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri or self.token_uri,
            "universe_domain": "googleapis.com",
        }

    def register_device(self) -> str:
        """A registration token as an app gets from the FCM SDK."""
        token = f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"
        with self._lock:
            self._devices[token] = True
        return token

    def unregister(self, token: str) -> None:
        """The app was uninstalled: sends to the token are answered 404 UNREGISTERED from now on."""
        with self._lock:
            self._devices[token] = False

    def revoke_tokens(self) -> None:
        """Every access token issued so far is refused with 401 from now on."""
        with self._lock:
            for grant in self._state.grants.values():
                grant.revoked = True

    def script(self, responses: Iterable[int | ScriptedFcm], *, device: str | None = None) -> None:
        """Answer the next sends (to ``device`` only, when given) with these FCM errors, in order."""
        items = [item if isinstance(item, ScriptedFcm) else ScriptedFcm(item) for item in responses]
        with self._lock:
            queue = (
                self._state.device_scripts.setdefault(device, collections.deque())
                if device
                else self._state.script
            )
            queue.extend(items)

    @property
    def received(self) -> list[FcmReceived]:
        """Every send request so far, oldest first."""
        with self._lock:
            return list(self._state.received)

    def delivered(self, token: str | None = None) -> list[FcmReceived]:
        """Accepted sends (to ``token`` only, when given)."""
        return [r for r in self.received if r.status == 200 and token in (None, r.token)]

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._state.token_requests)

    def reset(self) -> None:
        """Forget what was received, issued and scripted (accounts and devices stay)."""
        with self._lock:
            self._state = _State()

    # -- the token endpoint --------------------------------------------------------------------------
    def _verify_assertion(self, assertion: str) -> tuple[_Account, dict[str, Any]]:
        try:
            head_b64, claims_b64, signature_b64 = assertion.split(".")
            head = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(claims_b64))
            signature = _b64url_decode(signature_b64)
        except (ValueError, binascii.Error) as exc:
            raise _Refused(400, "invalid_grant: Invalid JWT: malformed") from exc
        if head.get("alg") != "RS256":
            raise _Refused(400, "invalid_grant: Invalid JWT: alg must be RS256")
        account = self._accounts.get(str(claims.get("iss")))
        if account is None:
            raise _Refused(400, "invalid_grant: Invalid JWT: iss is not a known service account")
        if head.get("kid") not in (None, account.key_id):
            raise _Refused(400, "invalid_grant: Invalid JWT Signature (kid)")
        try:
            account.public_key.verify(
                signature, f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature as exc:
            raise _Refused(400, "invalid_grant: Invalid JWT Signature.") from exc
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            raise _Refused(400, f"invalid_grant: Invalid JWT: aud must be {GOOGLE_TOKEN_AUDIENCE}")
        if not SCOPES & set(str(claims.get("scope", "")).split()):
            raise _Refused(400, "invalid_scope: the FCM scope is missing")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise _Refused(400, "invalid_grant: Invalid JWT: iat and exp are required")
        if iat > now + _SKEW or exp < now - _SKEW or exp - iat > 3600:
            raise _Refused(400, "invalid_grant: Invalid JWT: Token must be a short-lived token (60 minutes)")
        return account, claims

    def _token(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            if form.get("grant_type") != JWT_BEARER:
                raise _Refused(
                    400, f"unsupported_grant_type: Invalid grant_type: {form.get('grant_type', '')}"
                )
            account, claims = self._verify_assertion(form.get("assertion", ""))
        except _Refused as refused:
            error, _, description = refused.message.partition(": ")
            with self._lock:
                self._state.token_requests.append(TokenRequest(400, None, refused.message))
            return 400, {"error": error, "error_description": description}
        access_token = "ya29.fake-" + secrets.token_urlsafe(32)
        with self._lock:
            self._state.grants[access_token] = _Grant(account, time.time() + self.token_lifetime)
            self._state.token_requests.append(TokenRequest(200, claims))
        return 200, {"access_token": access_token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    # -- messages:send -------------------------------------------------------------------------------
    def _authorize(self, header: str | None, project_id: str) -> None:
        token = header[7:] if header and header.startswith("Bearer ") else None
        with self._lock:
            grant = self._state.grants.get(token or "")
        if grant is None or grant.revoked or grant.expires_at < time.time():
            raise _Refused(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
            )
        if grant.account.project_id != project_id:
            raise _Refused(
                403, f"Permission 'cloudmessaging.messages.create' denied on resource 'projects/{project_id}'"
            )

    def _send(
        self, project_id: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        extra: list[tuple[str, str]] = []
        body: dict[str, Any] | None = None
        try:
            self._authorize(headers.get("authorization"), project_id)
            if not headers.get("content-type", "").startswith("application/json"):
                raise _Refused(400, "Content-Type must be application/json", code="INVALID_ARGUMENT")
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise _Refused(400, "Invalid JSON payload received.", code="INVALID_ARGUMENT") from exc
            message = _validate(body)
            token = message.get("token")
            with self._lock:
                queue = self._state.device_scripts.get(token or "") or self._state.script
                scripted = queue.popleft() if queue else None
                registered = self._devices.get(token) if token else True
            if scripted is not None:
                if scripted.retry_after is not None:
                    extra.append(("Retry-After", scripted.retry_after))
                raise _Refused(
                    scripted.status, "scripted", code=scripted.error_code or _FCM_CODES.get(scripted.status)
                )
            if registered is None:
                raise _Refused(
                    400,
                    "The registration token is not a valid FCM registration token",
                    code="INVALID_ARGUMENT",
                    field="message.token",
                )
            if registered is False:
                raise _Refused(404, "Requested entity was not found.", code="UNREGISTERED")
        except _Refused as refused:
            with self._lock:
                self._state.received.append(
                    FcmReceived(project_id, refused.status, body, reason=refused.message)
                )
            return (
                refused.status,
                _error_body(refused.status, refused.message, refused.code, refused.field),
                extra,
            )
        name = f"projects/{project_id}/messages/0:{time.time_ns()}%{secrets.token_hex(8)}"
        with self._lock:
            self._state.received.append(FcmReceived(project_id, 200, body, name))
        return 200, {"name": name}, extra

    # -- ASGI ----------------------------------------------------------------------------------------
    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        path: str = scope["path"]
        extra: list[tuple[str, str]] = []
        if scope["method"] == "POST" and path == "/token":
            form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
            status, payload = self._token(form)
        elif (
            scope["method"] == "POST" and path.startswith("/v1/projects/") and path.endswith("/messages:send")
        ):
            project_id = path.removeprefix("/v1/projects/").removesuffix("/messages:send")
            status, payload, extra = self._send(project_id, headers, raw)
        else:
            status, payload = 404, _error_body(404, "Requested entity was not found.")
        await respond(
            send,
            status,
            json.dumps(payload).encode(),
            [("Content-Type", "application/json; charset=UTF-8"), *extra],
        )


def main(argv: list[str] | None = None) -> None:
    """Serve the fake in the foreground, with a service account written to a temporary file."""
    parser = argparse.ArgumentParser(description="fake FCM HTTP v1 and OAuth token endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8023)
    args = parser.parse_args(argv)
    fake = FakeFcm(port=args.port)
    base = f"http://{args.host}:{args.port}"
    account = fake.service_account(token_uri=f"{base}/token")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(account, file)
    print(
        f"fake FCM on {base}\n  FCM_API_BASE={base}\n  FCM_SERVICE_ACCOUNT_FILE={file.name}\n"
        f"  a registration token: {fake.register_device()}",
        flush=True,
    )
    serve_forever(fake, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
