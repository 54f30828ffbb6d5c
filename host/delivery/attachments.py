"""E-mail attachments: fetched from the file service once per dispatch, capped, with safe file names.

The file service speaks the Mia Files Service API (``GET <FILE_SERVICE_URL>/download/<file>``). A
dispatch's attachments are the template's ``email_attachments`` (``{file, name?}``) followed by the
request's ``emailAttachments`` (file names). Each file is streamed and refused past
:data:`MAX_ATTACHMENT_BYTES`, so an oversized file costs at most that much memory and nothing is sent
half-attached. One fetch serves every recipient of the dispatch: concurrent callers share it, and a
permanent failure (missing or oversized file) is remembered so the other recipients fail without
downloading again.
"""

from __future__ import annotations

import asyncio
import mimetypes
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from host.errors import PermanentChannelError, TransientChannelError
from host.plugins.channel import Attachment
from host.templates.attachment_names import attachment_name_problem

__all__ = [
    "ATTACHMENT_CHANNEL",
    "MAX_ATTACHMENT_BYTES",
    "AttachmentFetcher",
    "WantedAttachment",
    "safe_filename",
    "wanted_attachments",
]

#: the only channel that carries attachments
ATTACHMENT_CHANNEL = "email"
MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024
_REMEMBERED_FAILURES = 256

WantedAttachment = tuple[str, str]
"""(file name on the file service, file name shown to the recipient)."""


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """The base name only, without control or format characters: no path reaches the recipient."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return cleaned if cleaned.strip(".") else fallback


def wanted_attachments(
    dispatch: Mapping[str, Any], template: Mapping[str, Any] | None
) -> list[WantedAttachment]:
    """The template's attachments then the request's, each once."""
    wanted: list[WantedAttachment] = []
    for item in (template or {}).get("email_attachments") or ():
        wanted.append((item["file"], safe_filename(item.get("name") or item["file"])))
    for file in (dispatch.get("email") or {}).get("attachments") or ():
        wanted.append((file, safe_filename(file)))
    return list(dict.fromkeys(wanted))


def _content_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


class AttachmentFetcher:
    """Fetches a dispatch's attachments from the file service; one fetch per dispatch and event loop."""

    def __init__(
        self,
        base_url: str | None,
        *,
        max_bytes: int = MAX_ATTACHMENT_BYTES,
        timeout: float = 30.0,
    ) -> None:
        self._base_url = base_url.rstrip("/") if base_url else None
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._fetches: OrderedDict[str, asyncio.Future[tuple[Attachment, ...]]] = OrderedDict()

    async def for_dispatch(
        self, channel: str, dispatch: Mapping[str, Any], template: Mapping[str, Any] | None
    ) -> tuple[Attachment, ...]:
        """The attachments of this dispatch on this channel, or a ChannelError naming the file."""
        wanted = wanted_attachments(dispatch, template)
        if channel != ATTACHMENT_CHANNEL or not wanted:
            return ()
        if self._base_url is None:
            raise PermanentChannelError(
                "attachments requested but no file service is configured (FILE_SERVICE_URL)",
                code="attachment",
            )
        key = str(dispatch["_id"])
        fetch = self._fetches.get(key)
        if fetch is None:
            fetch = asyncio.ensure_future(self._fetch_all(wanted))
            self._fetches[key] = fetch
            fetch.add_done_callback(lambda done: self._settle(key, done))
            while len(self._fetches) > _REMEMBERED_FAILURES:
                self._fetches.popitem(last=False)
        # the fetch is shared: one caller being cancelled must not cancel it for the others
        return await asyncio.shield(fetch)

    def _settle(self, key: str, done: asyncio.Future[tuple[Attachment, ...]]) -> None:
        # success is cached by the caller (the delivery worker's composer); a transient failure is retried
        # later; a permanent one stays, so the dispatch's other recipients fail without fetching again
        permanent = not done.cancelled() and isinstance(done.exception(), PermanentChannelError)
        if not permanent and self._fetches.get(key) is done:
            del self._fetches[key]

    async def _fetch_all(self, wanted: Sequence[WantedAttachment]) -> tuple[Attachment, ...]:
        files = list(dict.fromkeys(file for file, _ in wanted))
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            contents = await asyncio.gather(*(self._fetch(client, file) for file in files))
        by_file = dict(zip(files, contents, strict=True))
        return tuple(
            Attachment(filename=name, content=by_file[file], content_type=_content_type(name))
            for file, name in wanted
        )

    async def _fetch(self, client: httpx.AsyncClient, file: str) -> bytes:
        problem = attachment_name_problem(file)  # a dispatch or template stored before names were checked
        if problem is not None:
            raise PermanentChannelError(f"attachment {file!r} {problem}", code="attachment")
        url = f"{self._base_url}/download/{quote(file, safe='')}"
        limit_mb = self._max_bytes / (1024 * 1024)
        too_large = PermanentChannelError(
            f"attachment {file!r} is larger than {limit_mb:g} MB", code="attachment_too_large"
        )
        try:
            async with client.stream("GET", url) as response:
                if response.status_code == 404:
                    raise PermanentChannelError(
                        f"attachment {file!r} not found on the file service", code="attachment_not_found"
                    )
                if response.status_code == 429 or response.status_code >= 500:
                    raise TransientChannelError(
                        f"attachment {file!r}: file service answered HTTP {response.status_code}",
                        code="attachment",
                    )
                if response.status_code >= 300:
                    raise PermanentChannelError(
                        f"attachment {file!r}: file service answered HTTP {response.status_code}",
                        code="attachment",
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                    raise too_large
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise too_large
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise TransientChannelError(
                f"attachment {file!r}: file service unreachable ({type(exc).__name__})", code="attachment"
            ) from exc
        return b"".join(chunks)
