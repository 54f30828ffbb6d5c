"""Posting events to webhook endpoints: signed, retried with exponential backoff, each once per endpoint.

The signature (README "Delivery events"): ``Tidings-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 with the shared secret (``TIDINGS_WEBHOOK_SECRET``) over ``<t>.<raw body>``. Receivers check
it with :func:`verify_signature` (or the README's snippet) and refuse timestamps outside their replay
window (5 minutes).

:class:`WebhookPoster` runs in every worker beside the recovery sweep. It polls ``webhook_queue`` (only
records still to post, so a small collection) and takes an entry by inserting the attempt document
``<record id>:<token>``: two workers reading the same entry post it once. The winner pushes the entry's
due time a lease ahead (a worker dying mid-post hands the record out again after it) and posts; a 2xx
marks the record ``delivered``; anything else is retried after ``min_backoff * 2^(attempt-1)`` seconds
(with jitter, capped, never before the endpoint's Retry-After) until ``maxAttempts``, then ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from host.delivery.backoff import backoff_seconds
from host.delivery.worker import worker_name
from host.events.log import EventLog, event_body
from host.plugins.conventions import UrlRedaction, redact_urls, retry_after_seconds
from host.settings.webhooks import WebhookEndpoint
from host.storage.documents import utcnow
from host.storage.duplicates import insert_missing

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookPoster",
    "next_delay",
    "sign",
    "signature_header",
    "verify_signature",
]

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO: an endpoint's userinfo and query values are starred there
UrlRedaction.install(logging.getLogger("httpx"))

Doc = dict[str, Any]
SIGNATURE_HEADER = "Tidings-Signature"
#: a claimed entry is handed out again this long after its worker took it (it died mid-post)
LEASE_SECONDS = 60.0
#: an entry whose event or record never appeared (a crash while writing them) is dropped after this
ORPHAN_SECONDS = 60.0
#: longest Retry-After honoured
MAX_RETRY_AFTER = 3600.0
POSTS_AT_ONCE = 16
#: how often the poster also looks at every recent dispatch for completion (a fallback)
COMPLETION_EVERY_SECONDS = 10.0


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The ``Tidings-Signature`` value for this body, now (or at ``timestamp``)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={sign(secret, stamp, body)}"


def verify_signature(secret: bytes, header: str, body: bytes, *, tolerance: float = 300.0) -> bool:
    """A receiver's check: a ``v1`` matches and the timestamp is within ``tolerance`` seconds of now."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        stamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = sign(secret, stamp, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))


def next_delay(endpoint: WebhookEndpoint, attempt: int, retry_after: float | None = None) -> float:
    """The wait before the post after ``attempt``: the endpoint's backoff, at least its Retry-After."""
    return backoff_seconds(
        attempt,
        minimum=endpoint.min_backoff_seconds,
        maximum=endpoint.max_backoff_seconds,
        retry_after=retry_after,
    )


class WebhookPoster:
    """Posts queued event records; safe to run in several worker processes at once."""

    def __init__(self, events: EventLog, worker: str | None = None) -> None:
        self._events = events
        self._worker = worker or worker_name()
        self._client: httpx.AsyncClient | None = None
        self._last_scan = 0.0

    async def run_once(self, now: datetime | None = None) -> int:
        """Post every entry due at ``now`` (default: the clock); returns how many posts were made."""
        now = now or utcnow()
        entries = await self._events.queue.find({"due_at": {"$lte": now}}).limit(500).to_list(None)
        if not entries:
            return 0
        claims = [
            {
                "_id": f"{entry['_id']}:{entry.get('token', 0)}",
                "record_id": entry["_id"],
                "started_at": now,
                "worker": self._worker,
            }
            for entry in entries
        ]
        taken = {claim["record_id"] for claim in await insert_missing(self._events.attempts, claims)}
        mine = [entry for entry in entries if entry["_id"] in taken]
        lease = now + timedelta(seconds=LEASE_SECONDS)
        for entry in mine:
            await self._events.queue.update_one(
                {"_id": entry["_id"], "token": entry.get("token", 0)},
                {"$set": {"due_at": lease}, "$inc": {"token": 1}},
            )
            entry["token"] = entry.get("token", 0) + 1
        gate = asyncio.Semaphore(POSTS_AT_ONCE)

        async def post(entry: Doc) -> None:
            async with gate:
                await self._post_entry(entry)

        await asyncio.gather(*(post(entry) for entry in mine))
        return len(mine)

    async def _post_entry(self, entry: Doc) -> None:
        events = self._events
        record = await events.records.find_one({"_id": entry["_id"]})
        event = await events.events.find_one({"_id": entry["event_id"]})
        if record is None or event is None or record["status"] != "pending":
            if (record is not None and record["status"] != "pending") or _older_than(entry, ORPHAN_SECONDS):
                await events.queue.delete_one({"_id": entry["_id"], "token": entry["token"]})
            else:  # its writer may still be at it: look again soon
                await events.queue.update_one(
                    {"_id": entry["_id"]}, {"$set": {"due_at": utcnow() + timedelta(seconds=1)}}
                )
            return
        endpoint = (
            events.endpoints[record["endpoint"]] if record["endpoint"] < len(events.endpoints) else None
        )
        if endpoint is None:
            await self._finish(entry, record, "failed", None, "the endpoint is no longer configured", None)
            return
        body = event_body(event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tidings-Webhooks",
            "Tidings-Event-Id": event["_id"],
            "Tidings-Event-Type": event["type"],
            SIGNATURE_HEADER: signature_header(events.secret, body),
            **events.headers[
                record["endpoint"]
            ],  # the endpoint's own (Authorization ...), from the environment
        }
        attempt = record["attempts"] + 1
        try:
            response = await self._http().post(
                endpoint.url, content=body, headers=headers, timeout=endpoint.timeout_seconds
            )
        except httpx.HTTPError as exc:
            # shown on the console and logged: no credential of the URL in it
            error = redact_urls(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            await self._retry_or_fail(entry, record, endpoint, attempt, None, error, None)
            return
        if 200 <= response.status_code < 300:
            await self._finish(entry, record, "delivered", response.status_code, None, attempt)
            return
        error = redact_urls(f"HTTP {response.status_code}: {response.text[:200]}")
        await self._retry_or_fail(
            entry,
            record,
            endpoint,
            attempt,
            response.status_code,
            error,
            retry_after_seconds(response.headers.get("Retry-After"), cap=MAX_RETRY_AFTER),
        )

    async def _retry_or_fail(
        self,
        entry: Doc,
        record: Doc,
        endpoint: WebhookEndpoint,
        attempt: int,
        status: int | None,
        error: str,
        retry_after: float | None,
    ) -> None:
        if attempt >= endpoint.max_attempts:
            await self._finish(entry, record, "failed", status, f"{error} (gave up after {attempt})", attempt)
            return
        delay = next_delay(endpoint, attempt, retry_after)
        now = utcnow()
        await self._events.records.update_one(
            {"_id": record["_id"]},
            {
                "$set": {"last_status": status, "last_error": error, "updated_at": now},
                "$inc": {"attempts": 1},
            },
        )
        await self._note_attempt(entry, status, error)
        await self._events.queue.update_one(
            {"_id": entry["_id"], "token": entry["token"]},
            {"$set": {"due_at": now + timedelta(seconds=delay)}, "$inc": {"token": 1}},
        )
        log.info("webhook %s answered %s; retry %d in %.1f s", record["_id"], error, attempt + 1, delay)

    async def _finish(
        self,
        entry: Doc,
        record: Doc,
        status: str,
        http_status: int | None,
        error: str | None,
        attempt: int | None,
    ) -> None:
        now = utcnow()
        fields: Doc = {"status": status, "last_status": http_status, "last_error": error, "updated_at": now}
        if status == "delivered":
            fields["delivered_at"] = now
        update: Doc = {"$set": fields}
        if attempt is not None:
            update["$inc"] = {"attempts": 1}
        await self._events.records.update_one({"_id": record["_id"]}, update)
        await self._note_attempt(entry, http_status, error)
        # a replay that came meanwhile changed the token: its entry stays
        await self._events.queue.delete_one({"_id": entry["_id"], "token": entry["token"]})
        if status == "failed":
            log.warning("webhook %s failed: %s", record["_id"], error)

    async def _note_attempt(self, entry: Doc, status: int | None, error: str | None) -> None:
        await self._events.attempts.update_one(
            {"_id": f"{entry['_id']}:{entry['token'] - 1}"},
            {"$set": {"finished_at": utcnow(), "status": status, "error": error}},
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def tick(self, completion_every: float = COMPLETION_EVERY_SECONDS) -> None:
        """One pass of the periodic poster (host.runtime.background): completions, then due posts.

        Noted dispatches are checked every pass; recent ones (the fallback) every ``completion_every``.
        """
        await self._events.check_noted()
        if time.monotonic() - self._last_scan >= completion_every:
            self._last_scan = time.monotonic()
            await self._events.check_recent()
        await self.run_once()

    async def close(self) -> None:
        """Close the HTTP client (the loop's ``on_stop``)."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


def _older_than(entry: Doc, seconds: float) -> bool:
    created = entry.get("created_at") or entry.get("due_at")
    return created is not None and created < utcnow() - timedelta(seconds=seconds)
