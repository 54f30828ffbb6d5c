"""Storage models: Beanie documents for templates, clusters, dispatches, deliveries and attempts.

Hot-path writes (delivery fan-out, claims, results) go through the PyMongo collections of these
documents with plain dicts and bulk operations; the Beanie models describe the shapes and indexes and
serve the API and console reads.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from host.delivery.lifecycle import Status
from host.settings import Lane

__all__ = [
    "ALL_DOCUMENTS",
    "API_KEYS_COLLECTION",
    "OPT_OUTS_COLLECTION",
    "ApiKey",
    "ApiKeyRecord",
    "Attempt",
    "Cluster",
    "Delivery",
    "DeliveryError",
    "DeliveryStatus",
    "Dispatch",
    "EmailOptions",
    "OptOut",
    "OptOutSource",
    "Scope",
    "Template",
    "TemplateVersion",
    "utcnow",
]

#: the statuses and their moves live in host.delivery.lifecycle
DeliveryStatus = Status


def utcnow() -> datetime:
    """The current time, timezone-aware, at the millisecond precision MongoDB keeps.

    From the whole milliseconds since the epoch: a float of them over 1,000 is within 0.12 µs of the
    instant, which ``fromtimestamp`` rounds to the exact millisecond (0.35 µs a call, against 1.15 for
    ``datetime.now`` with its microseconds cut by ``replace``; a /send takes the time ~5 times).
    """
    return datetime.fromtimestamp(time.time_ns() // 1_000_000 / 1000, UTC)


class TemplateAttachment(BaseModel):
    """An attachment listed on a template: only ``file`` is required (Mia Files Service name)."""

    file: str
    name: str | None = None
    size: int | None = None
    location: str | None = None


class Template(Document):
    """A named, reusable message with per-channel fields (SPEC §1)."""

    name: str
    email_title: str | None = None
    email_message: str | None = None
    email_html_message: str | None = None
    email_attachments: list[TemplateAttachment] = Field(default_factory=list)
    sms_message: str | None = None
    voice_message: str | None = None
    push_title: str | None = None
    push_subtitle: str | None = None
    push_message: str | None = None
    push_data: dict[str, Any] = Field(default_factory=dict)
    #: the template language of every text field: Jinja2 or Handlebars (Mia's templates)
    syntax: Literal["jinja", "handlebars"] = "jinja"
    #: ``transactional`` mail (receipts, password resets) ignores opt-outs and has no List-Unsubscribe
    category: Literal["standard", "transactional"] = "standard"
    #: per-locale variants of the text fields, only those that differ: ``{"it-IT": {"email_title": ...}}``
    locales: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: bumped by every save; each version is kept in ``template_versions`` (host.templates.history)
    version: int = 1
    updated_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "templates"
        indexes = [IndexModel([("name", ASCENDING)], unique=True)]


class TemplateVersion(Document):
    """One saved version of a template, ``id`` ``<template id>:<version>``: all its fields, who, when."""

    id: str  # type: ignore[assignment]
    template_id: str
    version: int
    fields: dict[str, Any]
    saved_by: str | None = None
    saved_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "template_versions"
        indexes = [IndexModel([("template_id", ASCENDING)])]


class Cluster(Document):
    """A named group of users; membership is stored on each user (SPEC §1)."""

    name: str
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "clusters"
        indexes = [IndexModel([("name", ASCENDING)], unique=True)]


class EmailOptions(BaseModel):
    """The e-mail-only options of a send request."""

    attachments: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    sender: str | None = None


class Dispatch(Document):
    """One accepted send request, stored before the client is answered (the outbox)."""

    channels: list[str]
    recipients: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(default_factory=list)
    template_id: str | None = None
    title: str | None = None
    content: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    email: EmailOptions = Field(default_factory=EmailOptions)
    saga_id: str | None = None
    #: `expanding` while the audience is being turned into deliveries, then `expanded`; a send with
    #: `sendAt` waits `scheduled` until then (host.dispatch.scheduling), or ends `cancelled`
    state: Literal["scheduled", "expanding", "expanded", "cancelled"] = "expanding"
    #: its priority lane (host.settings.lanes); None until the fan-out has counted its clusters
    priority: Lane | None = None
    send_at: datetime | None = None
    started_at: datetime | None = None
    cancelled_at: datetime | None = None
    #: resume point of the fan-out: the last key expanded; users are streamed in `fanout_key` order
    #: (the mapped user id; `_id` for progress recorded before that field existed)
    fanout_after: Any = None
    fanout_key: str | None = None
    expanded_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    expanded_at: datetime | None = None

    class Settings:
        name = "dispatches"
        indexes = [
            IndexModel([("created_at", DESCENDING)]),
            IndexModel([("state", ASCENDING)]),
        ]


class DeliveryError(BaseModel):
    """Why the last attempt of a delivery failed."""

    channel: str
    code: str | None = None
    message: str


class Delivery(Document):
    """One user × one channel of a dispatch; ``id`` is ``<dispatch>:<channel>:<user>``."""

    id: str  # type: ignore[assignment]
    dispatch_id: str
    channel: str
    user_id: str
    address: str | None = None
    status: DeliveryStatus = "queued"
    #: the lane of its dispatch: the broker queue it is handed to, every time
    priority: Lane = "normal"
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    enqueued_at: datetime | None = None
    due_at: datetime | None = None
    #: held back for the user's quiet hours until then (host.dispatch.deferrals): ``deferred`` in counts
    deferred_until: datetime | None = None
    sent_at: datetime | None = None
    provider_id: str | None = None
    provider: str | None = None
    last_error: DeliveryError | None = None

    class Settings:
        name = "deliveries"
        # every hot-path filter is on one of these single-field indexes (NOTES: the development
        # database never uses a compound index); the compound ones serve the sweep on MongoDB
        indexes = [
            IndexModel([("dispatch_id", ASCENDING)]),
            IndexModel([("status", ASCENDING)]),
            IndexModel([("user_id", ASCENDING)]),
            IndexModel([("provider_id", ASCENDING)]),  # provider status callbacks
            IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)]),
        ]


class Attempt(Document):
    """A claim on one attempt of one delivery; ``id`` is ``<delivery id>:<attempt number>``.

    Inserting it is how a worker takes the attempt: a duplicate key means another worker has it.
    The attempts of a delivery are also its history.
    """

    id: str  # type: ignore[assignment]
    delivery_id: str
    number: int
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    outcome: Literal["sending", "sent", "retry", "failed", "skipped"] = "sending"
    error: DeliveryError | None = None

    class Settings:
        name = "attempts"
        indexes = [IndexModel([("delivery_id", ASCENDING)])]


Scope = Literal["send", "read", "manage"]
API_KEYS_COLLECTION = "api_keys"


class ApiKeyRecord(BaseModel):
    """One API key as stored: its name, scopes and prefix, and only a hash of the key (host.access)."""

    name: str
    prefix: str
    key_hash: str
    scopes: list[Scope]
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = ""
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the key is still accepted."""
        return self.revoked_at is None


class ApiKey(ApiKeyRecord, Document):
    """The Beanie document of the ``api_keys`` collection: the shape and indexes, for ALL_DOCUMENTS."""

    class Settings:
        name = API_KEYS_COLLECTION
        indexes = [IndexModel([("prefix", ASCENDING)], unique=True)]


OptOutSource = Literal["link", "console", "api", "complaint"]
OPT_OUTS_COLLECTION = "opt_outs"


class OptOut(Document):
    """A user's opt-out of one channel; ``id`` is ``<user id>:<channel>`` (host.audience.opt_outs)."""

    id: str  # type: ignore[assignment]
    user_id: str
    channel: str
    at: datetime = Field(default_factory=utcnow)
    source: OptOutSource = "api"
    reason: str | None = None

    class Settings:
        name = OPT_OUTS_COLLECTION
        # the checks filter on `_id`; the user's list (API, console) on `user_id`
        indexes = [IndexModel([("user_id", ASCENDING)])]


ALL_DOCUMENTS: list[type[Document]] = [
    Template,
    TemplateVersion,
    Cluster,
    Dispatch,
    Delivery,
    Attempt,
    ApiKey,
    OptOut,
]
