"""Dispatch: accept a send request durably, then expand its audience into deliveries.

A short list of recipients is expanded inside the request, so its failures are in the answer; clusters
and long lists are expanded after the answer by the fan-out actor, which records its progress on the
dispatch and resumes where it stopped. Delivery ids are deterministic, so running an expansion twice
writes each delivery once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bson import ObjectId

from host.audience.users import (
    DeliveryPlanner,
    Failure,
    PlannedBatch,
    read_field,
    stream_cluster_users,
    user_projection,
)
from host.delivery.opt_out_checks import fanout_opt_outs
from host.dispatch.outbox import Outbox
from host.dispatch.scheduling import parse_send_at, scheduled_answer, scheduled_fields
from host.dispatch.schemas import SendAccepted, SendRequest
from host.dispatch.writes import DispatchWrites
from host.errors import InvalidAddress, RequestError
from host.plugins.channel import Channel
from host.plugins.registry import ChannelRegistry
from host.settings import Settings
from host.storage.documents import utcnow
from host.storage.store import Store
from host.templates.composition import check_content, load_template
from host.templates.rendering import Renderer

__all__ = ["INLINE_RECIPIENTS", "DispatchService"]

log = logging.getLogger(__name__)

#: recipients lists up to this size are expanded in the request; larger ones by the fan-out actor
INLINE_RECIPIENTS = 1000
FANOUT_BATCH = 2000
#: batches of a fan-out written at the same time
FANOUT_WRITES = 3

Doc = dict[str, Any]


def _unique(values: Sequence[str] | None) -> list[str]:
    return list(dict.fromkeys(values or ()))


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
        self._writes = DispatchWrites(store, outbox)

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
        send_at = parse_send_at(request.send_at)  # a future sendAt: stored `scheduled`, started later
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
        inline = bool(recipients) and len(recipients) <= INLINE_RECIPIENTS and send_at is None
        now = utcnow()
        # the recipients are looked up while the dispatch is stored: a read, nothing to undo if either fails
        lookup = asyncio.ensure_future(self._find_users(recipients, channels)) if inline else None
        stored = self._writes.insert_dispatch(
            {
                "_id": dispatch_id,
                "channels": [name for name, _ in channels],
                "recipients": recipients,
                "clusters": clusters,
                "template_id": str(template["_id"]) if template else None,
                "template_version": template.get("version", 1) if template else None,
                "category": (template or {}).get("category"),  # transactional: no opt-outs
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
                **scheduled_fields(send_at),
            }
        )
        try:
            await stored
        except BaseException:
            if lookup is not None:
                lookup.cancel()
                await asyncio.gather(lookup, return_exceptions=True)
            raise
        if send_at is not None:
            return scheduled_answer(dispatch_id, send_at)
        failures: list[Failure] = []
        try:
            if lookup is not None:
                failures = await self._expand_recipients(
                    dispatch_id, recipients, channels, lookup, category=(template or {}).get("category")
                )
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
        await self._writes.mark_expanded(dispatch_id)

    async def _store_planned(self, planned: PlannedBatch, *, grouped: bool = True) -> None:
        """Insert the batch's deliveries, then hand the queued ones to the broker.

        No outbox entry first: the dispatch is still ``expanding`` and its progress is recorded only
        after this, so a crash in between is repaired by expanding again (the sweep restarts a stalled
        dispatch; ids are deterministic and claims make a second enqueue harmless). A request's few
        deliveries are grouped with other requests'; a fan-out's large batches go on their own, so
        that several can be in flight.
        """
        if not planned.docs:
            return
        if grouped:
            await self._writes.insert_deliveries(planned.docs)
            await self._writes.hand_over(planned.queued)
        else:
            await self._writes.insert_deliveries_now(planned.docs)
            await self._outbox.hand_over(planned.queued)

    async def _find_users(
        self, recipients: Sequence[str], channels: Sequence[tuple[str, Channel]]
    ) -> dict[str, Doc]:
        projection = user_projection(self._store.fields, [c for _, c in channels])
        return await self._writes.find_users((recipients, projection))

    async def _expand_recipients(
        self,
        dispatch_id: str,
        recipients: Sequence[str],
        channels: Sequence[tuple[str, Channel]],
        lookup: Awaitable[dict[str, Doc]] | None = None,
        category: str | None = None,
    ) -> list[Failure]:
        """Write the deliveries of listed recipients; ``lookup`` already finds a list that fits one chunk."""
        opt_outs = fanout_opt_outs(self._store, channels, category, self._writes.find_opt_outs)
        planner = DeliveryPlanner(dispatch_id, channels, self._store.fields, opt_outs)
        failures: list[Failure] = []
        for start in range(0, len(recipients), INLINE_RECIPIENTS):
            chunk = recipients[start : start + INLINE_RECIPIENTS]
            if lookup is not None and len(recipients) <= INLINE_RECIPIENTS:
                found = await lookup
            else:
                found = await self._find_users(chunk, channels)
            planned = await planner.plan_batch([(uid, found.get(uid)) for uid in chunk], utcnow())
            await self._store_planned(planned)
            failures.extend(planned.failures)
        return failures

    async def expand(self, dispatch_id: str) -> None:
        """The fan-out: expand a stored dispatch's whole audience, resuming from its recorded progress."""
        dispatch = await self._store.dispatches.find_one({"_id": dispatch_id})
        if dispatch is None or dispatch["state"] == "expanded":
            return
        channels = [(name, self._registry[name]) for name in dispatch["channels"] if name in self._registry]
        if not dispatch.get("recipients_done"):
            await self._expand_recipients(
                dispatch_id, dispatch["recipients"], channels, category=dispatch.get("category")
            )
            await self._store.dispatches.update_one(
                {"_id": dispatch_id}, {"$set": {"recipients_done": True, "heartbeat_at": utcnow()}}
            )
        if dispatch["clusters"]:
            await self._expand_clusters(dispatch, channels)
        await self._mark_expanded(dispatch_id)

    async def _expand_clusters(self, dispatch: Doc, channels: Sequence[tuple[str, Channel]]) -> None:
        dispatch_id, fields = dispatch["_id"], self._store.fields
        after = dispatch.get("fanout_after")
        # users are streamed in the order of their (mapped) id, which decodes faster than an ObjectId
        # `_id`; progress recorded without a key was made in `_id` order
        key = dispatch.get("fanout_key") or ("_id" if after is not None else fields.id)
        batches = stream_cluster_users(
            self._store,
            dispatch["clusters"],
            user_projection(fields, [c for _, c in channels]),
            after=after,
            key=key,
            batch_size=FANOUT_BATCH,
        )
        opt_outs = fanout_opt_outs(self._store, channels, dispatch.get("category"))
        planner = DeliveryPlanner(dispatch_id, channels, fields, opt_outs)
        # up to FANOUT_WRITES batches are written while the next one is read and planned; progress is
        # recorded in batch order, each after its own write, so it never passes a batch not written
        writing: deque[tuple[asyncio.Task[None], Any, int]] = deque()
        try:
            async for batch in batches:
                planned = await planner.plan_batch(_with_ids(batch, fields.id), utcnow())
                task = asyncio.create_task(self._store_planned(planned, grouped=False))
                writing.append((task, read_field(batch[-1], key), len(planned.docs)))
                if len(writing) >= FANOUT_WRITES:
                    await self._record_progress(dispatch_id, key, *writing.popleft())
            while writing:
                await self._record_progress(dispatch_id, key, *writing.popleft())
        finally:
            for task, _, _ in writing:
                task.cancel()

    async def _record_progress(
        self, dispatch_id: str, key: str, written: asyncio.Task[None], after: Any, count: int
    ) -> None:
        await written
        await self._store.dispatches.update_one(
            {"_id": dispatch_id},
            {
                "$set": {"fanout_after": after, "fanout_key": key, "heartbeat_at": utcnow()},
                "$inc": {"expanded_count": count},
            },
        )


def _with_ids(users: Sequence[Doc], id_field: str) -> list[tuple[str, Doc]]:
    """Pair each user with its id (on the mapped field); users without one are left out."""
    if "." in id_field:
        ids = [read_field(user, id_field) for user in users]
    else:
        ids = [user.get(id_field) for user in users]
    return [(str(uid), user) for uid, user in zip(ids, users, strict=True) if uid is not None]
