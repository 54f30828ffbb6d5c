"""Storage models of deliverability: suppressions, bounce and complaint reports, and the bounce mailbox.

Shapes and indexes only (the hot path uses plain PyMongo, as everywhere): ``suppressions`` (one document
per suppressed e-mail address, host.audience.suppressions), ``feedback_reports`` (every bounce or
complaint recorded, whatever reported it, host.feedback.recorder), ``soft_bounces`` (recent soft bounces
per address), ``bounce_mail`` (every message the bounce listener received, kept whole until it is
recorded, host.feedback.mailbox) and ``feedback_tokens`` (provider signature tokens already used).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from host.storage.documents import utcnow

__all__ = [
    "BOUNCE_MAIL_COLLECTION",
    "FEEDBACK_DOCUMENTS",
    "FEEDBACK_REPORTS_COLLECTION",
    "FEEDBACK_TOKENS_COLLECTION",
    "SOFT_BOUNCES_COLLECTION",
    "SUPPRESSIONS_COLLECTION",
    "BounceMail",
    "FeedbackReport",
    "Suppression",
    "SuppressionReason",
]

SUPPRESSIONS_COLLECTION = "suppressions"
FEEDBACK_REPORTS_COLLECTION = "feedback_reports"
SOFT_BOUNCES_COLLECTION = "soft_bounces"
BOUNCE_MAIL_COLLECTION = "bounce_mail"
FEEDBACK_TOKENS_COLLECTION = "feedback_tokens"

#: why an address is suppressed: a hard bounce, too many soft bounces, or a complaint
SuppressionReason = Literal["hard-bounce", "soft-bounces", "complaint"]


class Suppression(Document):
    """An e-mail address not to send to; ``id`` is the address in lowercase.

    ``details`` holds, per reason, what suppressed it: when, from which report (source, status,
    diagnostic), and the delivery and dispatch it was about.
    """

    id: str  # type: ignore[assignment]
    address: str
    channel: str = "email"
    reasons: list[SuppressionReason] = Field(default_factory=list)
    details: dict[str, dict[str, Any]] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = SUPPRESSIONS_COLLECTION
        indexes = [IndexModel([("updated_at", DESCENDING)])]


class FeedbackReport(Document):
    """One bounce or complaint about one delivery; ``id`` is the report's own (idempotency) key."""

    id: str  # type: ignore[assignment]
    source: Literal["smtp", "ses", "sendgrid", "mailgun"]
    kind: Literal["bounce", "complaint"]
    severity: Literal["hard", "soft"] | None = None
    status: str | None = None
    diagnostic: str | None = None
    address: str | None = None
    delivery_id: str | None = None
    dispatch_id: str | None = None
    #: ``waiting`` for its delivery to be recorded ``sent``, ``retrying`` until a delivery has its
    #: Message-ID (or ``unmatched`` after a while), then ``recorded``
    state: Literal["waiting", "retrying", "recorded", "unmatched"] = "recorded"
    recipients: list[str] = Field(default_factory=list)
    message_id: str | None = None
    retry_until: datetime | None = None
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = FEEDBACK_REPORTS_COLLECTION
        indexes = [
            IndexModel([("address", ASCENDING)]),
            IndexModel([("state", ASCENDING)]),
            IndexModel([("delivery_id", ASCENDING)]),
        ]


class BounceMail(Document):
    """One message received by the bounce listener: stored whole before it is answered 250."""

    mail_from: str = ""
    rcpt_tos: list[str] = Field(default_factory=list)
    size: int = 0
    #: the message as received; dropped once its reports are recorded, kept when it could not be read
    raw: bytes | None = None
    #: ``received`` (being read), ``recorded`` (reports written), ``ignored`` (nothing to record:
    #: a success or delay notice) or ``kept`` (unreadable or unmapped: see ``reason``)
    state: Literal["received", "recorded", "ignored", "kept"] = "received"
    reason: str | None = None
    reports: list[str] = Field(default_factory=list)
    received_at: datetime = Field(default_factory=utcnow)
    #: kept because no delivery had its Message-ID yet: read again until then
    retry_until: datetime | None = None

    class Settings:
        name = BOUNCE_MAIL_COLLECTION
        indexes = [
            IndexModel([("state", ASCENDING)]),
            IndexModel([("received_at", DESCENDING)]),
            IndexModel([("retry_until", ASCENDING)], sparse=True),
        ]


#: for init_beanie, beside host.storage.documents.ALL_DOCUMENTS
FEEDBACK_DOCUMENTS: list[type[Document]] = [Suppression, FeedbackReport, BounceMail]
