"""Dispatch: accept a send request durably, then expand its audience into deliveries.

A short list of recipients is expanded inside the request, so its failures are in the answer; clusters
and long lists are expanded after the answer by the fan-out actor, which records its progress on the
dispatch and resumes where it stopped. Delivery ids are deterministic, so running an expansion twice
writes each delivery once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from bson import ObjectId
from pymongo.errors import BulkWriteError

from host.api.schemas import SendAccepted, SendRequest
from host.audience import (
    Failure,
    find_users,
    plan_deliveries,
    read_field,
    stream_cluster_users,
    user_projection,
)
from host.channel import Channel
from host.compose import check_content, load_template
from host.documents import utcnow
from host.errors import InvalidAddress, RequestError
from host.outbox import Outbox
from host.registry import ChannelRegistry
from host.rendering import Renderer
from host.settings import Settings
from host.store import Store

__all__ = ["INLINE_RECIPIENTS", "DispatchService"]

log = logging.getLogger(__name__)

#: recipients lists up to this size are expanded in the request; larger ones by the fan-out actor
INLINE_RECIPIENTS = 1000
FANOUT_BATCH = 2000

Doc = dict[str, Any]


def _unique(values: Sequence[str] | None) -> list[str]:
    return list(dict.fromkeys(values or ()))


class _Planned:
    """The delivery documents of one batch, the failures known now, and the queued ids by channel."""

    __slots__ = ("docs", "failures", "queued")

    def __init__(self) -> None:
        self.docs: list[Doc] = []
        self.failures: list[Failure] = []
        self.queued: dict[str, list[str]] = defaultdict(list)


class DispatchService:
    """Turns send requests into dispatches and dispatches into queued deliveries."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        registry: ChannelRegistry,
        renderer: Renderer,
        outbox: Outbox,
        schedule_expansion: Callable[[str], None],
    ) -> None:
        self._store = store
        self._settings = settings
        self._registry = registry
        self._renderer = renderer
        self._outbox = outbox
        self._schedule_expansion = schedule_expansion

    def _check_channels(self, names: Sequence[str]) -> list[tuple[str, Channel]]:
        if not names:
            raise RequestError("channels: must list at least one channel")
        channels: list[tuple[str, Channel]] = []
        for index, name in enumerate(_unique(names)):
            if name not in self._registry:
                active = ", ".join(self._registry)
                raise RequestError(f"channels[{index}]: channel {name!r} is not active (active: {active})")
            channels.append((name, self._registry[name]))
        return channels

    def _check_email_options(self, request: SendRequest) -> None:
        if request.email_attachments and not self._settings.env.file_service_url:
            raise RequestError("emailAttachments: no file service is configured (FILE_SERVICE_URL)")
        if request.email_sender is not None and "email" in self._registry:
            try:
                self._registry["email"].parse_address(request.email_sender)
            except InvalidAddress as exc:
                raise RequestError(f"emailSender: {exc.message}") from exc

    async def accept(self, request: SendRequest, *, saga_id: str | None = None) -> SendAccepted:
        """Validate, store the dispatch, expand a short audience now, and answer with known failures."""
        channels = self._check_channels(request.channels)
        recipients = _unique(request.recipients)
        clusters = _unique(request.clusters)
        if not recipients and not clusters:
            raise RequestError("recipients, clusters: at least one of them is required")
        template = None
        if request.template_id is not None:
            template = await load_template(self._store, request.template_id)
        elif not request.message_title or not request.message_content:
            raise RequestError("messageTitle, messageContent: both are required unless templateId is given")
        check_content(self._renderer, channels, template, request.message_title, request.message_content)
        self._check_email_options(request)
        emails = any(name == "email" for name, _ in channels)
        if (
            emails
            and template
            and template.get("email_attachments")
            and not self._settings.env.file_service_url
        ):
            raise RequestError(
                f"templateId: template {template.get('name')!r} has emailAttachments but no file "
                "service is configured (FILE_SERVICE_URL)"
            )

        dispatch_id = str(ObjectId())
        inline = bool(recipients) and len(recipients) <= INLINE_RECIPIENTS
        now = utcnow()
        await self._store.dispatches.insert_one(
            {
                "_id": dispatch_id,
                "channels": [name for name, _ in channels],
                "recipients": recipients,
                "clusters": clusters,
                "template_id": str(template["_id"]) if template else None,
                "title": None if template else request.message_title,
                "content": None if template else request.message_content,
                "data": request.data,
                "email": {
                    "attachments": request.email_attachments or [],
                    "cc": request.email_carbon_copies or [],
                    "bcc": request.email_blind_carbon_copies or [],
                    "sender": request.email_sender,
                },
                "saga_id": saga_id,
                "state": "expanding",
                "recipients_done": False,
                "fanout_after": None,
                "expanded_count": 0,
                "created_at": now,
                "heartbeat_at": now,
            }
        )
        failures: list[Failure] = []
        try:
            if inline:
                failures = await self._expand_recipients(dispatch_id, recipients, channels)
                if clusters:
                    await self._store.dispatches.update_one(
                        {"_id": dispatch_id}, {"$set": {"recipients_done": True}}
                    )
                else:
                    await self._mark_expanded(dispatch_id)
            if not inline or clusters:
                self._schedule_expansion(dispatch_id)
        except Exception:
            # the dispatch is stored: the recovery sweep finishes what was interrupted here
            log.warning(
                "dispatch %s accepted; its expansion continues in the background", dispatch_id, exc_info=True
            )
        return SendAccepted(failures=failures, dispatch_id=dispatch_id)

    async def _mark_expanded(self, dispatch_id: str) -> None:
        await self._store.dispatches.update_one(
            {"_id": dispatch_id}, {"$set": {"state": "expanded", "expanded_at": utcnow()}}
        )

    async def _write(
        self,
        dispatch_id: str,
        users: Sequence[tuple[str, Doc | None]],
        channels: Sequence[tuple[str, Channel]],
    ) -> tuple[int, list[Failure]]:
        planned = self._plan(dispatch_id, users, channels)
        await self._store_planned(planned)
        return len(planned.docs), planned.failures

    def _plan(
        self,
        dispatch_id: str,
        users: Sequence[tuple[str, Doc | None]],
        channels: Sequence[tuple[str, Channel]],
    ) -> _Planned:
        now = utcnow()
        planned = _Planned()
        fields = self._store.fields
        for user_id, user in users:
            docs, known = plan_deliveries(dispatch_id, user_id, user, channels, fields, now)
            planned.docs.extend(docs)
            planned.failures.extend(known)
        for doc in planned.docs:
            if doc["status"] == "queued":
                planned.queued[doc["channel"]].append(doc["_id"])
        return planned

    async def _store_planned(self, planned: _Planned) -> None:
        async def insert() -> None:
            try:
                await self._store.deliveries.insert_many(planned.docs, ordered=False)
            except BulkWriteError as exc:
                # a resumed expansion meets the deliveries it wrote before: those are fine
                others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
                if others:
                    raise

        if planned.docs:
            await self._outbox.push(planned.queued, write=insert)

    async def _expand_recipients(
        self, dispatch_id: str, recipients: Sequence[str], channels: Sequence[tuple[str, Channel]]
    ) -> list[Failure]:
        projection = user_projection(self._store.fields, [c for _, c in channels])
        failures: list[Failure] = []
        for start in range(0, len(recipients), INLINE_RECIPIENTS):
            chunk = recipients[start : start + INLINE_RECIPIENTS]
            found = await find_users(self._store, chunk, projection)
            _, known = await self._write(dispatch_id, [(uid, found.get(uid)) for uid in chunk], channels)
            failures.extend(known)
        return failures

    async def expand(self, dispatch_id: str) -> None:
        """The fan-out: expand a stored dispatch's whole audience, resuming from its recorded progress."""
        dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
        if dispatch is None or dispatch["state"] == "expanded":
            return
        channels = [(name, self._registry[name]) for name in dispatch["channels"] if name in self._registry]
        fields = self._store.fields
        if not dispatch.get("recipients_done"):
            await self._expand_recipients(dispatch_id, dispatch["recipients"], channels)
            await self._store.dispatches.update_one(
                {"_id": dispatch_id}, {"$set": {"recipients_done": True, "heartbeat_at": utcnow()}}
            )
        if dispatch["clusters"]:
            projection = user_projection(fields, [c for _, c in channels])
            batches = stream_cluster_users(
                self._store,
                dispatch["clusters"],
                projection,
                after=dispatch.get("fanout_after"),
                batch_size=FANOUT_BATCH,
            )
            # batch N is written while batch N+1 is read and planned; writes stay in order, so the
            # recorded progress never passes a batch that is not written
            writing: asyncio.Task[None] | None = None
            try:
                async for batch in batches:
                    users = [
                        (str(read_field(u, fields.id)), u)
                        for u in batch
                        if read_field(u, fields.id) is not None
                    ]
                    planned = self._plan(dispatch_id, users, channels)
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(self._write_batch(dispatch_id, planned, batch[-1]["_id"]))
                if writing is not None:
                    await writing
            finally:
                if writing is not None and not writing.done():
                    writing.cancel()
        await self._mark_expanded(dispatch_id)

    async def _write_batch(self, dispatch_id: str, planned: _Planned, after: Any) -> None:
        await self._store_planned(planned)
        await self._store.dispatches.update_one(
            {"_id": dispatch_id},
            {
                "$set": {"fanout_after": after, "heartbeat_at": utcnow()},
                "$inc": {"expanded_count": len(planned.docs)},
            },
        )
