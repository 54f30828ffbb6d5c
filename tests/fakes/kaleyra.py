"""A fake of Kaleyra's HTTP API (``/v1/<SID>/voice/outbound`` and ``/v1/<SID>/messages``) on 127.0.0.1.

Point the channels at it with ``KALEYRA_BASE_URL=fake.url``. It checks what Kaleyra documents: the
``api-key`` header and the account SID in the path, a form-encoded body, the mandatory parameters
(a call's ``to``, ``bridge``, ``target``; an SMS's ``to``, ``sender``, ``type``, ``body``), numbers with
their country code, a bridge number registered on the account, a ``target`` that is a JSON list of
actions. It answers with ids (a UUID per message or call) and error bodies of Kaleyra's shape
``{"code", "message", "data", "error": {<parameter>: <reason>}}``; the codes are the fake's own, as the
channels read only the status and the parameter named. Numbers listed as invalid are refused on ``to``;
scripted answers (429 + Retry-After, 503 ...) replace the next ones. Everything received is recorded.

By hand: ``python -m tests.fakes.kaleyra --port 8024`` (prints the variables it accepts).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http_server import LoopbackFake, Receive, Send, read_body, respond, serve_forever

__all__ = ["FakeKaleyra", "KaleyraReceived", "ScriptedKaleyra"]

_PATH = re.compile(r"^/v1/(?P<sid>[^/]+)/(?P<kind>messages|voice/outbound)$")
_DIGITS = re.compile(r"^[1-9][0-9]{7,14}$")
_SMS_TO = re.compile(r"^\+?[1-9][0-9]{7,14}$")
_ROUTES = {"DEFAULT", "MKT", "TXN", "OTP"}
_TARGET_ACTIONS = {"message", "ivr", "sound"}


@dataclass(frozen=True)
class ScriptedKaleyra:
    """An answer the fake gives instead of processing a request."""

    status: int
    retry_after: str | None = None


@dataclass(frozen=True)
class KaleyraReceived:
    """One request as the fake saw it, with the status it answered."""

    kind: str | None
    sid: str | None
    api_key: str | None
    form: dict[str, str]
    status: int
    id: str | None = None

    @property
    def to(self) -> str | None:
        return self.form.get("to")

    def target(self) -> Any:
        """The call's ``target`` parameter, decoded."""
        return json.loads(self.form["target"])


@dataclass
class _State:
    received: list[KaleyraReceived] = field(default_factory=list)
    script: collections.deque[ScriptedKaleyra] = field(default_factory=collections.deque)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "code": code,
            "message": message,
            "data": [],
            "error": {parameter: message} if parameter else {},
        }


def _require(form: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not form.get(name):
            raise _Refused(400, "E-MISSING", f"{name} is required", name)


class FakeKaleyra(LoopbackFake):
    """Kaleyra's outbound-call and SMS endpoints, served by uvicorn on a free port."""

    def __init__(
        self,
        *,
        sid: str | None = None,
        api_key: str | None = None,
        bridges: Iterable[str] = (),
        invalid_numbers: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self.sid = sid or f"HXEU{secrets.randbelow(10**10):010d}IN"
        self.api_key = api_key or "A" + secrets.token_hex(16)
        #: the DID numbers registered on the account (digits with country code), usable as ``bridge``
        self.bridges = set(bridges)
        self.invalid_numbers = {number.removeprefix("+") for number in invalid_numbers}
        self._lock = threading.Lock()
        self._state = _State()
        super().__init__(port=port)

    # -- test API ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to use as ``KALEYRA_BASE_URL``."""
        return self.base_url

    def environ(self, prefix: str = "KALEYRA_") -> dict[str, str]:
        """The variables a provider reads to reach this fake."""
        return {f"{prefix}API_KEY": self.api_key, f"{prefix}SID": self.sid, f"{prefix}BASE_URL": self.url}

    def script(self, responses: Iterable[int | ScriptedKaleyra]) -> None:
        """Answer the next requests with these, in order (an int is a status with a default error)."""
        with self._lock:
            self._state.script.extend(
                r if isinstance(r, ScriptedKaleyra) else ScriptedKaleyra(r) for r in responses
            )

    @property
    def received(self) -> list[KaleyraReceived]:
        with self._lock:
            return list(self._state.received)

    @property
    def calls(self) -> list[KaleyraReceived]:
        """Accepted outbound calls."""
        return [r for r in self.received if r.kind == "voice/outbound" and r.status == 200]

    @property
    def messages(self) -> list[KaleyraReceived]:
        """Accepted SMS."""
        return [r for r in self.received if r.kind == "messages" and r.status == 202]

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    # -- endpoints -----------------------------------------------------------------------------------
    def _call(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        _require(form, "to", "bridge", "target")
        to = form["to"]
        if not _DIGITS.match(to) or to in self.invalid_numbers:
            raise _Refused(400, "E-NUMBER", f"Invalid number: {to}", "to")
        if form["bridge"] not in self.bridges:
            raise _Refused(400, "E-BRIDGE", "bridge is not a number registered on the account", "bridge")
        try:
            target = json.loads(form["target"])
        except ValueError as exc:
            raise _Refused(400, "E-TARGET", "target must be JSON", "target") from exc
        if not isinstance(target, list) or not target:
            raise _Refused(400, "E-TARGET", "target must be a list of actions", "target")
        for action in target:
            if not isinstance(action, dict) or len(action) != 1 or not set(action) <= _TARGET_ACTIONS:
                raise _Refused(400, "E-TARGET", f"unknown target action {action!r}", "target")
            [value] = action.values()
            if not isinstance(value, str) or not value.strip():
                raise _Refused(400, "E-TARGET", "a target action needs a non-empty value", "target")
        call_id = str(uuid.uuid4())
        return 200, {
            "message": "Call initiated successfully",
            "data": [{"id": call_id, "to": to, "bridge": form["bridge"], "status": "QUEUED"}],
        }

    def _sms(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        _require(form, "to", "sender", "type", "body")
        to = form["to"]
        if not _SMS_TO.match(to) or to.removeprefix("+") in self.invalid_numbers:
            raise _Refused(400, "E-NUMBER", f"Invalid number: {to}", "to")
        if form["type"] not in _ROUTES:
            raise _Refused(400, "E-TYPE", f"type must be one of {', '.join(sorted(_ROUTES))}", "type")
        message_id = str(uuid.uuid4())
        return 202, {
            "id": message_id,
            "sender": form["sender"],
            "type": form["type"],
            "source": "API",
            "body": form["body"],
            "createdDateTime": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00"),
            "totalCount": 1,
            "data": [{"message_id": f"{message_id}:1", "recipient": to.removeprefix("+")}],
            "error": {},
        }

    def _answer(
        self, method: str, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]], KaleyraReceived]:
        match = _PATH.match(path)
        kind, sid = (match["kind"], match["sid"]) if match else (None, None)
        api_key = headers.get("api-key")
        form = {key: values[0] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
        extra: list[tuple[str, str]] = []
        try:
            with self._lock:
                scripted = self._state.script.popleft() if self._state.script else None
            if scripted is not None:
                if scripted.retry_after is not None:
                    extra.append(("Retry-After", scripted.retry_after))
                raise _Refused(scripted.status, f"E{scripted.status}", "scripted")
            if api_key != self.api_key:
                raise _Refused(401, "E-AUTH", "Invalid API key")
            if match is None or method != "POST":
                raise _Refused(404, "E-ROUTE", "Not found")
            if sid != self.sid:
                raise _Refused(401, "E-SID", "The SID does not belong to this API key")
            if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                raise _Refused(415, "E-CONTENT", "Content-Type must be application/x-www-form-urlencoded")
            status, body = self._call(form) if kind == "voice/outbound" else self._sms(form)
        except _Refused as refused:
            record = KaleyraReceived(kind, sid, api_key, form, refused.status)
            return refused.status, refused.body, extra, record
        item_id = body.get("id") or body["data"][0]["id"]
        return status, body, extra, KaleyraReceived(kind, sid, api_key, form, status, item_id)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        status, body, extra, record = self._answer(scope["method"], scope["path"], headers, raw)
        with self._lock:
            self._state.received.append(record)
        await respond(send, status, json.dumps(body).encode(), [("Content-Type", "application/json"), *extra])


def main(argv: list[str] | None = None) -> None:
    """Serve the fake in the foreground."""
    parser = argparse.ArgumentParser(description="fake Kaleyra API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8024)
    parser.add_argument("--bridge", action="append", default=[], help="a registered DID (digits)")
    args = parser.parse_args(argv)
    fake = FakeKaleyra(bridges=args.bridge, port=args.port)
    print(
        f"fake Kaleyra on http://{args.host}:{args.port}\n  KALEYRA_BASE_URL=http://{args.host}:{args.port}\n"
        f"  KALEYRA_API_KEY={fake.api_key}\n  KALEYRA_SID={fake.sid}",
        flush=True,
    )
    serve_forever(fake, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
