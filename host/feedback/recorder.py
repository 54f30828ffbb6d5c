"""Recording a bounce or a complaint: find its delivery, suppress the address, move the delivery, tell.

Every source (the bounce mailbox, the SES, SendGrid and Mailgun webhooks) turns what it received into
:class:`Report` s and hands them to :meth:`FeedbackRecorder.record`, which:

1. finds the delivery: by the id a VERP token named (host.access.bounce_addresses), else by the original
   ``Message-ID`` (the e-mail channel records it as the delivery's provider id); a report naming a
   recipient other than the delivery's address (a Cc, or a forgery) is not applied;
2. writes the report to ``feedback_reports`` under its own id (a DSN's hash, the provider's event id):
   a report recorded before is a duplicate, and nothing happens twice;
3. suppresses the address (host.audience.suppressions): at once for a hard bounce (5.x.x) or a
   complaint, after ``bounces.softBounces.limit`` soft bounces (4.x.x) within ``windowDays``; a
   complaint also opts the user out of e-mail (source ``complaint``);
4. moves the delivery ``sent → bounced`` or ``sent → complained`` (host.delivery.lifecycle) and writes
   the ``delivery.bounced`` / ``delivery.complained`` event.

A report can arrive before its delivery's result is written (a relay that bounces within the second):
found through its VERP token, the report waits (``state: waiting``) until the delivery is ``sent``; found
only through its ``Message-ID``, which the delivery gets with its result, a provider's report is kept
``retrying`` for :data:`MATCH_WINDOW` (the bounce mailbox keeps its mail and reads it again instead).
:meth:`FeedbackRecorder.run_once`, run every few seconds by the workers and the bounce listener, applies
both once they can be. Every step is idempotent, so re-applying a report half applied (a crash) is safe.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from host.audience.opt_outs import OptOuts
from host.audience.suppressions import Suppressions, suppression_key
from host.delivery.lifecycle import UNSETTLED, allowed
from host.delivery.metrics import count_feedback
from host.events.log import EventLog
from host.feedback.reports import Outcome, Report, kind_name, normal_message_id, report_doc, stored_report
from host.settings import SoftBouncePolicy
from host.storage.documents import utcnow
from host.storage.feedback_documents import FEEDBACK_REPORTS_COLLECTION, SOFT_BOUNCES_COLLECTION
from host.storage.store import Store

__all__ = ["MATCH_WINDOW", "WAIT_LIMIT", "FeedbackRecorder"]

log = logging.getLogger(__name__)

Doc = dict[str, Any]
#: a report whose delivery is still not ``sent`` after this long is recorded without moving it
WAIT_LIMIT = timedelta(hours=1)
#: how long a report found by nothing yet is tried again (its Message-ID is recorded with the results)
MATCH_WINDOW = timedelta(minutes=10)
_NAMES = {"smtp": "the bounce mailbox", "ses": "Amazon SES", "sendgrid": "SendGrid", "mailgun": "Mailgun"}


#: what matching a report to its delivery adds to the stored report
_MATCHED = ("address", "delivery_id", "dispatch_id", "user_id", "state")


class FeedbackRecorder:
    """Applies bounces and complaints to the deliveries, suppressions and opt-outs of one store."""

    def __init__(
        self,
        store: Store,
        events: EventLog,
        suppressions: Suppressions,
        opt_outs: OptOuts,
        soft_bounces: SoftBouncePolicy,
    ) -> None:
        self._store = store
        self._events = events
        self._suppressions = suppressions
        self._opt_outs = opt_outs
        self._policy = soft_bounces
        self.reports: AsyncCollection[Doc] = store.db[FEEDBACK_REPORTS_COLLECTION]
        self._soft: AsyncCollection[Doc] = store.db[SOFT_BOUNCES_COLLECTION]

    async def _delivery(self, report: Report) -> tuple[Doc | None, str]:
        if report.delivery_id is not None:
            doc = await self._store.deliveries.find_one({"_id": report.delivery_id})
            return doc, f"no delivery {report.delivery_id!r} (named by the VERP token)"
        message_id = normal_message_id(report.message_id)
        if message_id is None:
            return None, "the report names no delivery: no VERP token and no original Message-ID"
        doc = await self._store.deliveries.find_one({"provider_id": message_id})
        return doc, f"no delivery sent with Message-ID {message_id}"

    async def record(self, report: Report, *, keep_unmatched: bool = False) -> Outcome:
        """Apply one report (see the module's description); never raises for a report that matches nothing.

        With ``keep_unmatched``, a report no delivery has the Message-ID of yet is stored ``retrying``.
        """
        delivery, missing = await self._delivery(report)
        if delivery is None or delivery.get("channel") != "email" or not delivery.get("address"):
            retryable = report.delivery_id is None and normal_message_id(report.message_id) is not None
            if retryable and keep_unmatched:
                return await self._keep(report, missing)
            log.info("%s report %s matches no e-mail delivery: %s", report.source, report.id, missing)
            return Outcome(state="unmatched", reason=missing, retryable=retryable)
        address = suppression_key(delivery["address"])
        named = {suppression_key(recipient) for recipient in report.recipients}
        if named and address not in named:
            about = ", ".join(sorted(named))
            reason = f"the report is about {about}, but delivery {delivery['_id']} went to {address}"
            log.info("%s report %s not applied: %s", report.source, report.id, reason)
            return Outcome(state="unmatched", delivery_id=delivery["_id"], reason=reason)
        doc = report_doc(report) | {
            "address": address,
            "delivery_id": delivery["_id"],
            "dispatch_id": delivery.get("dispatch_id"),
            "user_id": delivery.get("user_id"),
            "state": "waiting",
        }
        try:
            await self.reports.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.reports.find_one({"_id": report.id})
            if existing is None or existing.get("state") in ("recorded", "unmatched"):
                return Outcome(state="duplicate", delivery_id=delivery["_id"])
            # half applied before (a crash), or kept until its delivery was found: every step is idempotent
            await self.reports.update_one({"_id": report.id}, {"$set": {k: doc[k] for k in _MATCHED}})
            doc = existing | {k: doc[k] for k in _MATCHED}
        else:
            count_feedback(report.source, kind_name(doc))
        return await self._apply(doc, delivery, utcnow())

    async def _keep(self, report: Report, missing: str) -> Outcome:
        """Store a report no delivery has the Message-ID of yet, to be matched by :meth:`run_once`."""
        doc = report_doc(report) | {"state": "retrying", "retry_until": utcnow() + MATCH_WINDOW}
        try:
            await self.reports.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.reports.find_one({"_id": report.id}) or {}
            if existing.get("state") != "retrying":
                return Outcome(state="duplicate")
        else:
            count_feedback(report.source, kind_name(doc))
        log.info("%s report %s kept: %s yet", report.source, report.id, missing)
        return Outcome(state="retrying", reason=missing, retryable=True)

    async def _apply(self, report: Doc, delivery: Doc, now: datetime) -> Outcome:
        detail = {
            "at": report["at"],
            "source": report["source"],
            "status": report.get("status"),
            "detail": report.get("diagnostic") or report.get("feedback_type"),
            "delivery_id": delivery["_id"],
            "dispatch_id": delivery.get("dispatch_id"),
            "report_id": report["_id"],
        }
        address = report["address"]
        if report["kind"] == "complaint":
            await self._suppressions.add(address, "complaint", detail)
            if delivery.get("user_id"):
                how = report.get("feedback_type") or "abuse"
                reason = f"reported an e-mail as spam ({how}) through {_NAMES[report['source']]}"
                await self._opt_outs.record(delivery["user_id"], "email", "complaint", reason)
        elif report.get("severity") == "soft":
            count = await self._soft_bounces(address, report["_id"], report["at"], now)
            if count >= self._policy.limit:
                await self._suppressions.add(address, "soft-bounces", detail | {"count": count})
        else:
            await self._suppressions.add(address, "hard-bounce", detail)
        state = await self._move(report, delivery, now)
        if state == "recorded":
            await self.reports.update_one({"_id": report["_id"]}, {"$set": {"state": "recorded"}})
        return Outcome(state=state, delivery_id=delivery["_id"])

    async def _soft_bounces(self, address: str, report_id: str, at: datetime, now: datetime) -> int:
        """This soft bounce counted (once) with the address's others; how many fall within the window."""
        since = now - timedelta(days=self._policy.window_days)
        await self._soft.update_one(
            {"_id": address}, {"$addToSet": {"reports": {"id": report_id, "at": at}}}, upsert=True
        )
        doc = await self._soft.find_one({"_id": address}) or {}
        recent = [entry for entry in doc.get("reports") or [] if entry["at"] >= since]
        if len(recent) < len(doc.get("reports") or []):
            await self._soft.update_one({"_id": address}, {"$pull": {"reports": {"at": {"$lt": since}}}})
        return len(recent)

    async def _move(self, report: Doc, delivery: Doc, now: datetime) -> Literal["recorded", "waiting"]:
        """``sent → bounced | complained``; waits while the delivery's result is not written yet."""
        target = "complained" if report["kind"] == "complaint" else "bounced"
        status = delivery.get("status")
        if status in UNSETTLED:
            if now - report["at"] < WAIT_LIMIT:
                return "waiting"
            log.warning(
                "report %s: delivery %s is still %s; recorded without it",
                report["_id"],
                delivery["_id"],
                status,
            )
            return "recorded"
        if not allowed(status, target):
            if status != target:
                log.info(
                    "report %s: delivery %s is %s, not moved to %s",
                    report["_id"],
                    delivery["_id"],
                    status,
                    target,
                )
            return "recorded"
        if report["kind"] == "complaint":
            code = report.get("feedback_type") or "complaint"
            message = f"the recipient reported the e-mail as spam ({code}) through {_NAMES[report['source']]}"
        else:
            code = report.get("status") or f"{report.get('severity') or 'hard'}-bounce"
            why = f": {report['diagnostic']}" if report.get("diagnostic") else ""
            severity = report.get("severity") or "hard"
            message = f"{severity} bounce ({code}) reported by {_NAMES[report['source']]}{why}"
        fields: Doc = {
            "status": target,
            "updated_at": now,
            "last_error": {"channel": "email", "code": code, "message": message[:1000]},
        }
        await self._store.deliveries.update_one({"_id": delivery["_id"]}, {"$set": fields})
        if self._events.enabled:
            await self._events.emit([self._events.delivery_event(delivery | fields)])
        return "recorded"

    async def run_once(self, now: datetime | None = None, limit: int = 500) -> int:
        """Apply the reports whose delivery has since been found or recorded; returns how many were."""
        now = now or utcnow()
        applied = 0
        for kept in await self.reports.find({"state": "retrying"}).limit(limit).to_list(None):
            outcome = await self.record(stored_report(kept), keep_unmatched=True)
            if outcome.state == "recorded":
                applied += 1
            elif outcome.state == "retrying" and kept.get("retry_until") and kept["retry_until"] < now:
                log.info("report %s matched no delivery within %s: dropped", kept["_id"], MATCH_WINDOW)
                await self.reports.update_one({"_id": kept["_id"]}, {"$set": {"state": "unmatched"}})
        waiting = await self.reports.find({"state": "waiting"}).limit(limit).to_list(None)
        for report in waiting:
            delivery = await self._store.deliveries.find_one({"_id": report["delivery_id"]})
            if delivery is None:
                await self.reports.update_one({"_id": report["_id"]}, {"$set": {"state": "recorded"}})
                continue
            if (await self._apply(report, delivery, now)).state == "recorded":
                applied += 1
        return applied

    async def tick(self) -> None:
        """The step of the background loop (host.runtime.background)."""
        await self.run_once()

    async def forget(self, address: str) -> bool:
        """Remove an address's suppression and start its soft-bounce count again; False if not suppressed."""
        removed = await self._suppressions.remove(address)
        await self._soft.delete_one({"_id": suppression_key(address)})
        return removed

    async def of_address(self, address: str, limit: int = 50) -> list[Doc]:
        """The newest reports about an address (why it is suppressed)."""
        cursor = self.reports.find({"address": suppression_key(address)}).sort("at", -1).limit(limit)
        return await cursor.to_list(None)

    async def ensure_indexes(self) -> None:
        """The waiting loop reads by state, an address's history by address."""
        await self.reports.create_index("state")
        await self.reports.create_index("address")
