"""Accepting a send request: checked field by field, stored durably, then expanded (host.dispatch.expansion).

The dispatch is written before the client is answered and before anything reaches the broker. An
audience of at most 1,000 users (listed recipients plus cluster members, counted while the dispatch is
stored) is expanded inside the request, so its failures are all in the answer, as Mia's are; a larger
one answers at once with ``"expansion": "background"`` (the listed recipients' failures still in it,
when they fit), and the fan-out actor expands the rest. The priority lane (host.settings.lanes) is
chosen here when what decides it is known: asked for, the template's category, or the audience counted
(the same capped count); otherwise the fan-out counts the clusters and records it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from host.audience.planning import Failure
from host.dispatch.expansion import INLINE_AUDIENCE, Expansion
from host.dispatch.scheduling import parse_send_at, scheduled_answer, scheduled_fields
from host.dispatch.schemas import SendAccepted, SendRequest
from host.dispatch.writes import ExpansionInterrupted
from host.errors import InvalidAddress, RequestError
from host.plugins.channel import Channel
from host.plugins.registry import ChannelRegistry
from host.settings import Lane, Settings
from host.storage.documents import utcnow
from host.storage.nesting import nesting_problem
from host.templates.attachment_names import check_attachment_names
from host.templates.composition import ContentChecks
from host.templates.rendering import Renderer
from host.templates.service import TemplateService

__all__ = ["MAX_COPIES", "Dispatcher"]

log = logging.getLogger(__name__)
#: Cc and Bcc addresses a send may carry, each list (the copies of every mail of the dispatch)
MAX_COPIES = 50

Doc = dict[str, Any]


def _unique(values: Sequence[str] | None) -> list[str]:
    return list(dict.fromkeys(values or ()))


def _distinct(failures: Sequence[Failure]) -> list[Failure]:
    """Each user's failure on a channel once (a listed user may be in a listed cluster too)."""
    return list({(f.user_id, f.channel): f for f in failures}.values())


class Dispatcher:
    """Turns send requests into stored dispatches, and hands their expansion on."""

    def __init__(
        self,
        settings: Settings,
        registry: ChannelRegistry,
        renderer: Renderer,
        templates: TemplateService,
        expansion: Expansion,
        schedule_expansion: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._content = ContentChecks(renderer)  # the same message text is checked once
        self._templates = templates
        self._expansion = expansion
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
        for field, copies in (
            ("emailCarbonCopies", request.email_carbon_copies),
            ("emailBlindCarbonCopies", request.email_blind_carbon_copies),
        ):
            if copies is not None and len(copies) > MAX_COPIES:
                raise RequestError(f"{field}: at most {MAX_COPIES} addresses, not {len(copies)}")
        if request.email_attachments and not self._settings.env.file_service_url:
            raise RequestError("emailAttachments: no file service is configured (FILE_SERVICE_URL)")
        check_attachment_names(request.email_attachments or [], "emailAttachments")
        problem = nesting_problem(request.data, "data")  # stored with the dispatch: what MongoDB takes
        if problem is not None:
            raise RequestError(problem)
        if request.email_sender is not None and "email" in self._registry:
            try:
                self._registry["email"].parse_address(request.email_sender)
            except InvalidAddress as exc:
                raise RequestError(f"emailSender: {exc.message}") from exc

    def _dispatch_doc(
        self,
        dispatch_id: str,
        request: SendRequest,
        channels: Sequence[tuple[str, Channel]],
        recipients: list[str],
        clusters: list[str],
        template: Doc | None,
        now: datetime,
    ) -> Doc:
        """The dispatch as stored, ``expanding`` (its ``priority`` and schedule are set by the caller)."""
        return {
            "_id": dispatch_id,
            "channels": [name for name, _ in channels],
            "recipients": recipients,
            "clusters": clusters,
            "template_id": str(template["_id"]) if template else None,
            "template_version": template.get("version", 1) if template else None,
            "category": (template or {}).get("category"),  # transactional: no opt-outs, and the high lane
            "title": None if template else request.message_title,
            "content": None if template else request.message_content,
            "data": request.data,
            "email": {
                "attachments": request.email_attachments or [],
                "cc": request.email_carbon_copies or [],
                "bcc": request.email_blind_carbon_copies or [],
                "sender": request.email_sender,
            },
            "saga_id": None,
            "state": "expanding",
            "recipients_done": False,
            "fanout_after": None,
            "expanded_count": 0,
            "created_at": now,
            "heartbeat_at": now,
        }

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
            template = await self._templates.find(request.template_id)
        elif not request.message_title or not request.message_content:
            raise RequestError("messageTitle, messageContent: both are required unless templateId is given")
        await self._content.check(channels, template, request.message_title, request.message_content)
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

        category = (template or {}).get("category")
        lanes = self._expansion.lanes
        # with clusters, None until they are counted (below, or by the fan-out)
        priority = lanes.choose(request.priority, category, len(recipients), complete=not clusters)
        dispatch_id = str(ObjectId())
        immediate = send_at is None
        listed = bool(recipients) and len(recipients) <= INLINE_AUDIENCE and immediate
        now = utcnow()
        doc = self._dispatch_doc(dispatch_id, request, channels, recipients, clusters, template, now)
        doc.update(priority=priority, saga_id=saga_id, **scheduled_fields(send_at))
        if listed and not clusters:  # the commonest send: every step in one grouped job
            return await self._send_listed(doc, recipients, channels, priority or "normal")
        # read while the dispatch is stored (nothing to undo if either fails): the listed users (and
        # their opt-outs), and the clusters' members, counted up to one more than the audience that is
        # expanded here
        lookup = (
            asyncio.ensure_future(self._expansion.look_up(recipients, channels, category)) if listed else None
        )
        room = INLINE_AUDIENCE - len(recipients)
        members = (
            asyncio.ensure_future(self._expansion.cluster_members(clusters, room + 1))
            if clusters and immediate and room > 0
            else None
        )
        reads = [task for task in (lookup, members) if task is not None]
        try:
            await self._expansion.insert_dispatch(doc)
        except BaseException:
            for task in reads:
                task.cancel()
            await asyncio.gather(*reads, return_exceptions=True)
            raise
        if send_at is not None:
            return scheduled_answer(dispatch_id, send_at)
        failures: list[Failure] = []
        background = True
        try:
            inline = listed  # a recipients list alone: when it is short enough to be listed
            if clusters:  # with clusters: when the count says the whole audience fits
                counted = None if members is None else await members
                fits = counted is not None and counted <= room
                inline = (listed or not recipients) and fits
                if priority is None and counted is not None:
                    # exact when it fits; else the audience is above INLINE_AUDIENCE, which may decide
                    priority = lanes.choose(None, category, len(recipients) + counted, complete=fits)
                    if priority is not None:
                        await self._expansion.record_lane(dispatch_id, priority)
            lane = priority or "normal"  # still unknown: the listed recipients go before the count
            if lookup is not None:
                failures = await self._expansion.expand_recipients(
                    dispatch_id, recipients, channels, lookup, category=category, priority=lane
                )
                if clusters:
                    await self._expansion.recipients_done(dispatch_id)
            if inline and clusters:
                clustered = await self._expansion.expand_clusters_now(doc, channels, lane)
                failures = _distinct([*failures, *clustered])
            if inline:
                await self._expansion.mark_expanded(dispatch_id)
                background = False
            else:
                self._schedule_expansion(dispatch_id)
        except Exception:
            # the dispatch is stored: the recovery sweep finishes what was interrupted here
            log.warning(
                "dispatch %s accepted; its expansion continues in the background", dispatch_id, exc_info=True
            )
        finally:
            for task in reads:
                if not task.done():
                    task.cancel()
        log.debug(
            "dispatch %s accepted: %d recipients, %d clusters, %d known failures",
            dispatch_id, len(recipients), len(clusters), len(failures),
        )  # fmt: skip
        if background:
            return SendAccepted(failures=failures, dispatch_id=dispatch_id, expansion="background")
        return SendAccepted(failures=failures, dispatch_id=dispatch_id)

    async def _send_listed(
        self, doc: Doc, recipients: list[str], channels: list[tuple[str, Channel]], lane: Lane
    ) -> SendAccepted:
        """Listed recipients only: stored and expanded in one grouped job (host.dispatch.writes)."""
        dispatch_id = doc["_id"]
        try:
            failures = await self._expansion.send_listed(doc, recipients, channels, lane)
        except ExpansionInterrupted as exc:
            # the dispatch is stored: the recovery sweep finishes what was interrupted here
            log.warning(
                "dispatch %s accepted; its expansion continues in the background", dispatch_id, exc_info=exc
            )
            return SendAccepted(failures=exc.failures, dispatch_id=dispatch_id, expansion="background")
        log.debug(
            "dispatch %s accepted: %d recipients, %d known failures",
            dispatch_id,
            len(recipients),
            len(failures),
        )
        return SendAccepted(failures=failures, dispatch_id=dispatch_id)

    async def expand(self, dispatch_id: str) -> None:
        """The fan-out of a stored dispatch (the fan-out actor's work)."""
        await self._expansion.expand(dispatch_id)
