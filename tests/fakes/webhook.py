"""A local webhook receiver over real HTTP on 127.0.0.1: records JSON posts, answers scripted statuses.

The peer of the third-party ``tidings-webhook`` plugin (tests/plugins). Accepted posts get
``201 {"id": "wh-..."}``; ``receiver.script([503, (429, "1"), 400])`` replaces the next answers.
"""

from __future__ import annotations

import collections
import json
import secrets
import threading
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.http_server import LoopbackFake, Receive, Send, read_body, respond

__all__ = ["WebhookPost", "WebhookReceiver"]


@dataclass(frozen=True)
class WebhookPost:
    """One POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int
    id: str | None
    #: the body as it arrived (to check a signature over it)
    raw: bytes = b""


class WebhookReceiver(LoopbackFake):
    """Records what is posted to it; served by uvicorn on a free port."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: list[WebhookPost] = []
        self._script: collections.deque[tuple[int, str | None]] = collections.deque()
        super().__init__()

    @property
    def url(self) -> str:
        """The URL to give as ``WEBHOOK_URL``."""
        return f"{self.base_url}/hook"

    def script(self, answers: Iterable[int | tuple[int, str | None]]) -> None:
        """Answer the next posts with these statuses (``(status, retry_after)`` adds Retry-After)."""
        with self._lock:
            self._script.extend(a if isinstance(a, tuple) else (a, None) for a in answers)

    @property
    def posts(self) -> list[WebhookPost]:
        with self._lock:
            return list(self._posts)

    def accepted(self) -> list[WebhookPost]:
        return [post for post in self.posts if post.status == 201]

    def reset(self) -> None:
        with self._lock:
            self._posts.clear()
            self._script.clear()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            status, retry_after = self._script.popleft() if self._script else (201, None)
            if scope["method"] != "POST" or body is None:
                status = 400
            post_id = f"wh-{secrets.token_hex(8)}" if status == 201 else None
            self._posts.append(WebhookPost(scope["path"], headers, body, status, post_id, raw))
        extra = [("Retry-After", retry_after)] if retry_after else []
        payload = {"id": post_id} if post_id else {"error": status}
        await respond(
            send, status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *extra]
        )
