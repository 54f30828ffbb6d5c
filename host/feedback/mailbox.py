"""The bounce mailbox: every message the bounce listener receives is stored whole, then read and recorded.

A message is written to ``bounce_mail`` (``state: received``, the raw bytes) before the listener answers
``250``, so a report the sending MTA was told it delivered is never lost; a database outage answers
``451`` and the MTA tries again later. It is then read (host.feedback.mail_reports) and mapped to its
delivery: through the VERP token of the address it came to (or, for an abuse report, the original's
``Original-Mail-From``/``Return-Path``), else through the original ``Message-ID`` it quotes. Its reports
go to host.feedback.recorder, and the message ends:

- ``recorded``: its reports are written (the raw bytes are dropped, the reports keep what matters);
- ``ignored``: nothing to record (a delay or success notice, a ``not-spam`` report); raw dropped too;
- ``kept``: it could not be read or mapped (not a report, malformed, a forged or unknown VERP token, no
  delivery with its Message-ID): the raw bytes stay, with the reason, and the console lists it.

:meth:`BounceMailbox.run_once` reads again a message left ``received`` (the process died while reading
it) and, for :data:`~host.feedback.recorder.MATCH_WINDOW`, one kept because no delivery had its
``Message-ID`` yet (results are written after each batch: a relay's DSN may come first).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from host.access.bounce_addresses import BounceAddresses, InvalidBounceAddress
from host.feedback.mail_reports import MailReading, UnreadableMail, read_report
from host.feedback.recorder import MATCH_WINDOW, FeedbackRecorder
from host.feedback.reports import Report
from host.storage.documents import utcnow
from host.storage.feedback_documents import BOUNCE_MAIL_COLLECTION
from host.storage.store import Store

__all__ = ["ACCEPTED", "TRY_LATER", "BounceMailbox"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
ACCEPTED = "250 2.0.0 OK: report stored"
TRY_LATER = "451 4.3.0 cannot store the message now, try again later"
#: a message still ``received`` this long after it arrived was left by a crash: read it again
_STALE = timedelta(minutes=1)
_LISTED = {"raw": 0}


class BounceMailbox:
    """Stores, reads and records the mail of the bounce listener (one store, one event loop)."""

    def __init__(self, store: Store, recorder: FeedbackRecorder, addresses: BounceAddresses | None) -> None:
        self._recorder = recorder
        self._addresses = addresses
        self._mail: AsyncCollection[Doc] = store.db[BOUNCE_MAIL_COLLECTION]

    @property
    def domain(self) -> str | None:
        """The domain whose mail the listener takes (None: no bounce domain, so no VERP)."""
        return self._addresses.domain if self._addresses is not None else None

    def accepts(self, address: str) -> bool:
        """Whether the listener takes mail for this recipient (any address at the bounce domain)."""
        return self._addresses is not None and self._addresses.is_ours(address)

    async def receive(self, mail_from: str, rcpt_tos: Sequence[str], raw: bytes) -> str:
        """Store one message, read and record it; the SMTP reply (``250`` once it is stored)."""
        doc: Doc = {
            "_id": ObjectId(),
            "mail_from": mail_from,
            "rcpt_tos": list(rcpt_tos),
            "size": len(raw),
            "raw": raw,
            "state": "received",
            "received_at": utcnow(),
        }
        try:
            await self._mail.insert_one(doc)
        except PyMongoError as exc:
            log.warning("bounce mail from %r not stored (%s): answered 451", mail_from, type(exc).__name__)
            return TRY_LATER
        await self._read(doc)
        return ACCEPTED

    async def _read(self, doc: Doc) -> None:
        """Read and record a stored message; whatever happens, it ends in a state that says so."""
        retry = False
        try:
            state, reason, reports, retry = await self._reports_of(doc)
        except Exception as exc:  # a bug or an outage must not lose the message: it stays, kept
            log.exception("bounce mail %s could not be recorded", doc["_id"])
            state, reason, reports = "kept", f"internal error: {type(exc).__name__}: {exc}", []
        fields: Doc = {"state": state, "reason": reason, "reports": reports, "read_at": utcnow()}
        fields["retry_until"] = doc["received_at"] + MATCH_WINDOW if retry else None
        if state == "kept":
            log.warning("bounce mail %s kept: %s", doc["_id"], reason)
            await self._mail.update_one({"_id": doc["_id"]}, {"$set": fields})
        else:
            await self._mail.update_one({"_id": doc["_id"]}, {"$set": fields, "$unset": {"raw": ""}})

    def _verp(self, rcpt_tos: Sequence[str], reading: MailReading) -> tuple[str | None, str | None]:
        """(the delivery id a genuine VERP token names, or the problem with the tokens found)."""
        if self._addresses is None:
            return None, None
        prefix = self._addresses.local_part + "+"
        problems: list[str] = []
        for address in [*rcpt_tos, reading.original_mail_from, reading.original_return_path]:
            if not address or not address.lower().startswith(prefix):
                continue
            try:
                return self._addresses.read(address), None
            except InvalidBounceAddress as exc:
                problems.append(str(exc))
        return None, "; ".join(problems) or None

    async def _reports_of(self, doc: Doc) -> tuple[str, str | None, list[str], bool]:
        """(state, reason, the reports recorded, whether to read it again later)."""
        try:
            reading = read_report(doc["raw"])
        except UnreadableMail as exc:
            return "kept", str(exc), [], False
        delivery_id, problem = self._verp(doc["rcpt_tos"], reading)
        if problem is not None and delivery_id is None:
            return "kept", f"VERP token refused: {problem}", [], False
        message_id = None if delivery_id else reading.original_message_id
        digest = hashlib.sha256(doc["raw"]).hexdigest()[:32]
        reports: list[Report] = []
        if reading.kind == "dsn":
            for index, status in enumerate(reading.recipients):
                if status.bounced:
                    reports.append(
                        Report(
                            id=f"smtp:{digest}:{index}",
                            source="smtp",
                            kind="bounce",
                            severity=status.severity,
                            status=status.status,
                            diagnostic=status.diagnostic,
                            recipients=status.addresses,
                            delivery_id=delivery_id,
                            message_id=message_id,
                        )
                    )
            if not reports:
                actions = ", ".join(sorted({status.action for status in reading.recipients}))
                return "ignored", f"a delivery status notice, not a bounce (Action: {actions})", [], False
        elif reading.complaint:
            reports.append(
                Report(
                    id=f"smtp:{digest}:arf",
                    source="smtp",
                    kind="complaint",
                    feedback_type=reading.feedback_type,
                    recipients=(reading.original_rcpt_to,) if reading.original_rcpt_to else (),
                    delivery_id=delivery_id,
                    message_id=message_id,
                )
            )
        else:
            return (
                "ignored",
                f"a feedback report of type {reading.feedback_type!r}, not a complaint",
                [],
                False,
            )
        outcomes = [await self._recorder.record(report) for report in reports]
        unmatched = [o for o in outcomes if o.state == "unmatched"]
        reasons = "; ".join(o.reason or "unmatched" for o in unmatched) or None
        if len(unmatched) == len(outcomes):
            return "kept", reasons, [], all(o.retryable for o in unmatched)
        done = [report.id for report, o in zip(reports, outcomes, strict=True) if o.state != "unmatched"]
        return "recorded", reasons, done, False

    async def run_once(self, now: datetime | None = None) -> int:
        """Read again the messages a crash left ``received`` and those kept for a delivery not found yet."""
        now = now or utcnow()
        stale = await self._mail.find({"state": "received"}).to_list(100)
        again = [doc for doc in stale if doc["received_at"] < now - _STALE]
        again += await self._mail.find({"retry_until": {"$gt": now}}).to_list(1000)
        for doc in again:
            await self._read(doc)
        return len(again)

    async def tick(self) -> None:
        """The step of the feedback loop: waiting reports whose delivery is now recorded, mail left unread."""
        await self._recorder.run_once()
        await self.run_once()

    async def recent(self, state: str | None = None, *, skip: int = 0, limit: int = 50) -> list[Doc]:
        """The newest messages (of one state), without their raw bytes."""
        criteria: Doc = {"state": state} if state else {}
        cursor = self._mail.find(criteria, _LISTED).sort("received_at", -1).skip(skip).limit(limit)
        return await cursor.to_list(None)

    async def get(self, mail_id: str) -> Doc | None:
        """One message with its raw bytes (while it is kept), or None."""
        try:
            return await self._mail.find_one({"_id": ObjectId(mail_id)})
        except InvalidId:
            return None

    async def read_again(self, mail_id: str) -> Doc | None:
        """Read a kept message again (its delivery may have been recorded since); None if none or not kept."""
        doc = await self.get(mail_id)
        if doc is None or doc.get("raw") is None:
            return None
        await self._read(doc)
        return await self._mail.find_one({"_id": doc["_id"]}, _LISTED)
