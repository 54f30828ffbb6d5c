"""A fake of Twilio's REST API (Messages and Calls of API 2010-04-01) over real HTTP on 127.0.0.1.

Point the real SDK at it with ``TwilioConfig(api_base=fake.url)``. It checks HTTP Basic auth, answers
with Twilio-shaped JSON (resources and errors), refuses numbers listed as invalid with 21211, plays
scripted answers (429, 5xx ...) for the next requests, and records everything it receives.

By hand: ``python -m tests.fakes.twilio --port 8021`` (prints the credentials it accepts).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import collections
import email.utils
import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http_server import LoopbackFake, Receive, Send, read_body, respond, serve_forever

__all__ = ["FakeTwilio", "Received", "ScriptedResponse"]

API = "/2010-04-01"
_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)(?:/(?P<sid>[A-Za-z0-9]+))?\.json$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
_DEFAULT_ERRORS = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass(frozen=True)
class ScriptedResponse:
    """An answer the fake gives instead of processing a request."""

    status: int
    code: int | None = None
    message: str | None = None
    retry_after: str | None = None
    #: seconds to wait before answering (to provoke client timeouts)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it, with the status it answered."""

    method: str
    path: str
    kind: str | None
    auth_user: str | None
    form: dict[str, str]
    status: int
    sid: str | None = None
    #: when the request arrived (``time.time()``: calendar seconds, as rate limiters count them)
    at: float = 0.0

    @property
    def to(self) -> str | None:
        return self.form.get("To")

    @property
    def from_(self) -> str | None:
        return self.form.get("From")

    @property
    def body(self) -> str | None:
        return self.form.get("Body")

    @property
    def twiml(self) -> str | None:
        return self.form.get("Twiml")

    def twiml_tree(self) -> ET.Element:
        """The received TwiML, parsed."""
        assert self.twiml is not None, "no Twiml in this request"
        return ET.fromstring(self.twiml)


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    script: collections.deque[ScriptedResponse] = field(default_factory=collections.deque)


def _now() -> str:
    return email.utils.format_datetime(datetime.now(UTC).replace(microsecond=0))


def _error(status: int, code: int | None = None, message: str | None = None) -> dict[str, Any]:
    default_code, default_message = _DEFAULT_ERRORS.get(status, (status, _REASONS.get(status, "Error")))
    code = code if code is not None else default_code
    return {
        "code": code,
        "message": message or default_message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(LoopbackFake):
    """Twilio's Messages and Calls endpoints, served by uvicorn on a free port."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        invalid_numbers: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.invalid_numbers = set(invalid_numbers)
        self._state = _State()
        self._lock = threading.Lock()
        super().__init__(port=port)

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to use as ``TWILIO_API_BASE``."""
        return self.base_url

    # -- test API ------------------------------------------------------------------------------------
    def script(self, responses: Iterable[int | ScriptedResponse]) -> None:
        """Answer the next requests with these, in order (an int is a status with Twilio's default error)."""
        with self._lock:
            for item in responses:
                self._state.script.append(
                    item if isinstance(item, ScriptedResponse) else ScriptedResponse(item)
                )

    @property
    def received(self) -> list[Received]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._state.received)

    @property
    def messages(self) -> list[Received]:
        """Accepted Messages creations."""
        return [r for r in self.received if r.kind == "Messages" and r.method == "POST" and r.status == 201]

    @property
    def calls(self) -> list[Received]:
        """Accepted Calls creations."""
        return [r for r in self.received if r.kind == "Calls" and r.method == "POST" and r.status == 201]

    def reset(self) -> None:
        """Forget what was received and scripted."""
        with self._lock:
            self._state = _State()

    # -- ASGI ----------------------------------------------------------------------------------------
    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = time.time()
        raw = await read_body(receive)
        form = {key: values[0] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        method, path = scope["method"], scope["path"]
        user, password = self._credentials(headers.get("authorization"))
        match = _PATH.match(path)
        kind = match["kind"] if match else None
        extra: list[tuple[str, str]] = []
        with self._lock:
            scripted = self._state.script.popleft() if self._state.script else None
            if scripted is not None:
                status, payload = scripted.status, _error(scripted.status, scripted.code, scripted.message)
                if scripted.retry_after is not None:
                    extra.append(("Retry-After", scripted.retry_after))
            elif user != self.account_sid or password != self.auth_token:
                status, payload = 401, _error(401)
                extra.append(("WWW-Authenticate", 'Basic realm="Twilio API"'))
            elif match is None or match["account"] != self.account_sid:
                status, payload = 404, _error(404)
            elif method == "GET" and match["sid"]:
                resource = self._state.resources.get(match["sid"])
                status, payload = (200, resource) if resource else (404, _error(404))
            elif method == "POST" and not match["sid"]:
                status, payload = self._create(match["kind"], form)
            else:
                status, payload = 405, _error(405, 20004, "Method not allowed")
            sid = payload.get("sid") if status == 201 else None
            self._state.received.append(Received(method, path, kind, user, form, status, sid, arrived))
        if scripted is not None and scripted.delay:
            await asyncio.sleep(scripted.delay)
        await respond(
            send,
            status,
            json.dumps(payload).encode(),
            [("Content-Type", "application/json; charset=utf-8"), *extra],
        )

    @staticmethod
    def _credentials(header: str | None) -> tuple[str | None, str | None]:
        if not header or not header.startswith("Basic "):
            return None, None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return user, password

    def _create(self, kind: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to, origin = form.get("To"), form.get("From")
        if not to:
            return 400, _error(400, 21604, "A 'To' phone number is required.")
        if not origin and not form.get("MessagingServiceSid"):
            return 400, _error(400, 21603, "A 'From' phone number is required.")
        if to in self.invalid_numbers or not _E164.match(to):
            return 400, _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if kind == "Messages":
            body = form.get("Body", "")
            if not body:
                return 400, _error(400, 21602, "Message body is required.")
            if len(body) > 1600:
                return 400, _error(
                    400, 21617, "The concatenated message body exceeds the 1600 character limit."
                )
            resource = self._message(to, origin, form.get("MessagingServiceSid"), body)
        else:
            twiml = form.get("Twiml")
            if not twiml and not form.get("Url"):
                return 400, _error(400, 21205, "Url parameter is required.")
            if twiml:
                try:
                    ET.fromstring(twiml)
                except ET.ParseError:
                    return 400, _error(400, 12100, "Document parse failure")
            resource = self._call(to, origin or "")
        self._state.resources[resource["sid"]] = resource
        return 201, resource

    def _common(self, prefix: str, kind: str) -> dict[str, Any]:
        sid = prefix + secrets.token_hex(16)
        uri = f"{API}/Accounts/{self.account_sid}/{kind}/{sid}"
        now = _now()
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "uri": uri + ".json",
        }

    def _message(self, to: str, origin: str | None, service: str | None, body: str) -> dict[str, Any]:
        resource = self._common("SM", "Messages")
        segments = 1 if len(body) <= 160 else -(-len(body) // 153)
        base = resource["uri"].removesuffix(".json")
        resource |= {
            "body": body,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "from": origin,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(segments),
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": to,
        }
        return resource

    def _call(self, to: str, origin: str) -> dict[str, Any]:
        resource = self._common("CA", "Calls")
        base = resource["uri"].removesuffix(".json")
        resource |= {
            "annotation": None,
            "answered_by": None,
            "caller_name": None,
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": origin,
            "from_formatted": origin,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "queue_time": "0",
            "start_time": None,
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
            },
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
        }
        return resource


def main(argv: list[str] | None = None) -> None:
    """Serve the fake in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="fake-auth-token")
    parser.add_argument("--invalid", action="append", default=[], help="a To number answered with 21211")
    args = parser.parse_args(argv)
    fake = FakeTwilio(account_sid=args.account_sid, auth_token=args.auth_token, invalid_numbers=args.invalid)
    print(
        f"fake Twilio on http://{args.host}:{args.port}\n"
        f"  TWILIO_API_BASE=http://{args.host}:{args.port}\n"
        f"  TWILIO_ACCOUNT_SID={args.account_sid}\n  TWILIO_AUTH_TOKEN={args.auth_token}",
        flush=True,
    )
    serve_forever(fake, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
