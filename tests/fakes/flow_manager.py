"""A local Flow Manager: records every event POSTed to ``/event``; can be told to answer 503.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    args = parser.parse_args()
    serve_forever(FlowManager(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
