"""A local Mia Files Service: ``GET /download/<file>`` serves stored bytes and counts every request.

Use it from tests (``with FileService() as files: files.put("a.pdf", b"...")``) or by hand::

    python -m tests.fakes.files --port 8081 --file report.pdf=./report.pdf

Unknown files answer 404 with a JSON body, as the real service does. Large files are sent in 64 KiB
chunks without a Content-Length, so a client's streaming cap is what stops them, not the header.
"""

from __future__ import annotations

import argparse
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.fakes.http_server import LoopbackFake, Receive, Send, respond, serve_forever

__all__ = ["FileService"]

_CHUNK = 64 * 1024


class FileService(LoopbackFake):
    """Serves ``put`` files at ``/download/<name>``; counts GETs by name (``requests``), keeps ``paths``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        #: every path requested, as the server saw it (a client resolving ``..`` shows here)
        self.paths: list[str] = []
        self._lock = threading.Lock()
        super().__init__(host=host, port=port)

    @property
    def url(self) -> str:
        return self.base_url

    def put(self, name: str, content: bytes) -> None:
        self.files[name] = content

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        with self._lock:
            self.paths.append(path)
        if scope["method"] != "GET" or not path.startswith("/download/"):
            await respond(send, 404, b'{"error":"Not Found"}', [("content-type", "application/json")])
            return
        name = unquote(path.removeprefix("/download/"))
        with self._lock:
            self.requests[name] += 1
        content = self.files.get(name)
        if content is None:
            body = b'{"statusCode":404,"error":"Not Found","message":"file not found"}'
            await respond(send, 404, body, [("content-type", "application/json")])
            return
        headers = [(b"content-type", b"application/octet-stream")]
        if len(content) <= _CHUNK:
            await respond(send, 200, content, [("content-type", "application/octet-stream")])
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, len(content), _CHUNK):
            more = start + _CHUNK < len(content)
            await send(
                {"type": "http.response.body", "body": content[start : start + _CHUNK], "more_body": more}
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--file", action="append", default=[], help="NAME=PATH to serve")
    args = parser.parse_args()
    service = FileService()
    for item in args.file:
        name, _, path = item.partition("=")
        service.put(name, Path(path).read_bytes())
    serve_forever(service, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
