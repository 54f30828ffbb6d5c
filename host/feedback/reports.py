"""What a bounce or complaint report is, whatever reported it, and how it is stored.

:class:`Report` is what every source (the bounce mailbox, the SES, SendGrid and Mailgun webhooks) makes of
what it received; :class:`Outcome` is what recording one did (host.feedback.recorder). Stored reports live
in ``feedback_reports`` (host.storage.feedback_documents).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from host.storage.documents import utcnow

__all__ = ["Outcome", "Report", "Source", "kind_name", "normal_message_id", "report_doc", "stored_report"]

Doc = dict[str, Any]
Source = Literal["smtp", "ses", "sendgrid", "mailgun"]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """One bounce or complaint about one message, whatever reported it."""

    id: str  #: unique per report: recording the same one twice changes nothing
    source: Source
    kind: Literal["bounce", "complaint"]
    severity: Literal["hard", "soft"] | None = None  #: bounces: 5.x.x is hard, 4.x.x soft
    status: str | None = None  #: the enhanced status code (RFC 3463), e.g. ``5.1.1``
    diagnostic: str | None = None
    feedback_type: str | None = None  #: complaints: ``abuse``, ``fraud`` ... (RFC 5965)
    #: the recipient as the report names it (a DSN may give the original and the final address), if it does
    recipients: tuple[str, ...] = ()
    delivery_id: str | None = None  #: named by a genuine VERP token
    message_id: str | None = None  #: the original ``Message-ID``


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What recording one report did: ``recorded``, ``waiting``, ``duplicate`` or ``unmatched``."""

    state: Literal["recorded", "waiting", "retrying", "duplicate", "unmatched"]
    delivery_id: str | None = None
    reason: str | None = None
    #: unmatched for now: no delivery has its Message-ID yet (it may, once results are written)
    retryable: bool = False


def normal_message_id(value: str | None) -> str | None:
    """A ``Message-ID`` as the e-mail channel records it: ``<left@right>`` (brackets added if missing)."""
    text = (value or "").strip()
    if not text:
        return None
    return text if text.startswith("<") else f"<{text}>"


def report_doc(report: Report) -> Doc:
    """The stored form of a report, before it is matched to a delivery."""
    return {
        "_id": report.id,
        "source": report.source,
        "kind": report.kind,
        "severity": report.severity if report.kind == "bounce" else None,
        "status": report.status,
        "diagnostic": report.diagnostic,
        "feedback_type": report.feedback_type,
        "recipients": list(report.recipients),
        "message_id": report.message_id,
        "at": utcnow(),
    }


def stored_report(doc: Doc) -> Report:
    """A stored report as a Report again (to match it to its delivery later)."""
    return Report(
        id=doc["_id"],
        source=doc["source"],
        kind=doc["kind"],
        severity=doc.get("severity"),
        status=doc.get("status"),
        diagnostic=doc.get("diagnostic"),
        feedback_type=doc.get("feedback_type"),
        recipients=tuple(doc.get("recipients") or ()),
        message_id=doc.get("message_id"),
    )


def kind_name(doc: Doc) -> str:
    if doc["kind"] == "complaint":
        return "complaint"
    return f"{doc.get('severity') or 'hard'}-bounce"
