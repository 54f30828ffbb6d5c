"""A local Flow Manager: records every event POSTed to ``/event``; can be told to answer 503.

It checks the body as the Flow Manager's ``POST /event`` schema does (its configuration page): an object
with exactly ``key`` (a string, the saga id) and ``value``, an object with exactly ``messageLabel`` (a
string) and ``messagePayload``; anything else is answered 400 and recorded in ``rejected``.

Use it from tests (``with FlowManager() as fm: ... fm.events``) or by hand::

    python -m tests.fakes.flow_manager --port 8082
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

from tests.fakes.http_server import LoopbackFake, Receive, Send, read_body, respond, serve_forever

__all__ = ["FlowManager"]


class FlowManager(LoopbackFake):
    """Stores the JSON of each POST /event in ``events``; ``fail_next(n)`` answers 503 n times first."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        #: bodies refused as not matching the event schema, with the reason
        self.rejected: list[tuple[bytes, str]] = []
        self.refused = 0
        self._failures = 0
        self._lock = threading.Lock()
        super().__init__(host=host, port=port)

    @property
    def url(self) -> str:
        return self.base_url

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await read_body(receive)
        if scope["method"] != "POST" or scope["path"] != "/event":
            await respond(send, 404, b'{"error":"Not Found"}', [("content-type", "application/json")])
            return
        problem = _schema_problem(body)
        if problem is not None:
            with self._lock:
                self.rejected.append((body, problem))
            await respond(
                send, 400, json.dumps({"error": problem}).encode(), [("content-type", "application/json")]
            )
            return
        with self._lock:
            failing = self._failures > 0
            if failing:
                self._failures -= 1
                self.refused += 1
            else:
                self.events.append(json.loads(body))
        if failing:
            await respond(
                send, 503, b'{"error":"Service Unavailable"}', [("content-type", "application/json")]
            )
        else:
            await respond(send, 200, b"{}", [("content-type", "application/json")])


def _schema_problem(body: bytes) -> str | None:
    """Why a body is not a Flow Manager event, or None if it is one."""
    try:
        event = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(event, dict) or set(event) != {"key", "value"}:
        return "an event has exactly key and value"
    if not isinstance(event["key"], str):
        return "key must be a string"
    value = event["value"]
    if not isinstance(value, dict) or set(value) != {"messageLabel", "messagePayload"}:
        return "value has exactly messageLabel and messagePayload"
    if not isinstance(value["messageLabel"], str):
        return "value.messageLabel must be a string"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    args = parser.parse_args()
    serve_forever(FlowManager(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
