"""The suppression API (scope ``manage``): list and search the suppressed addresses, see why, remove one.

``GET /suppressions?search=&reason=&after=&limit=`` lists them by address; ``GET
/suppressions/{address}`` shows one with each reason's when and report, and the reports about it
(host.feedback.recorder); ``DELETE /suppressions/{address}`` sends to it again (a complaint's opt-out
stays: remove it with ``DELETE /users/{id}/opt-outs/email``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from host.api.paging import Limit, decode_cursor, next_cursor
from host.audience.suppressions import REASONS
from host.errors import NotFound, RequestError
from host.runtime.wiring import Runtime

__all__ = [
    "ROUTES",
    "ReasonView",
    "ReportView",
    "SuppressionDetail",
    "SuppressionList",
    "SuppressionView",
    "delete_suppression",
    "get_suppression",
    "list_suppressions",
]

Doc = dict[str, Any]
_MANAGE: dict[str, Any] = {"scope": "manage"}


class ReasonView(msgspec.Struct, rename="camel", kw_only=True):
    """Why an address is suppressed, once: when, and from which report."""

    reason: str
    at: datetime | None = None
    source: str | None = None
    status: str | None = None
    detail: str | None = None
    delivery_id: str | None = None
    dispatch_id: str | None = None
    report_id: str | None = None
    count: int | None = None  #: soft bounces: how many within the window


class SuppressionView(msgspec.Struct, rename="camel", kw_only=True):
    """One suppressed address and its reasons."""

    address: str
    channel: str
    reasons: list[ReasonView]
    created_at: datetime
    updated_at: datetime


class SuppressionList(msgspec.Struct, rename="camel", kw_only=True):
    """A page of suppressions, ordered by address."""

    items: list[SuppressionView]
    next_after: str | None = None


class ReportView(msgspec.Struct, rename="camel", kw_only=True):
    """One bounce or complaint recorded about the address."""

    id: str
    source: str
    kind: str
    severity: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    feedback_type: str | None = None
    delivery_id: str | None = None
    state: str
    at: datetime


class SuppressionDetail(SuppressionView, kw_only=True):
    """A suppression with the newest reports about its address."""

    reports: list[ReportView]


def _view(doc: Doc) -> SuppressionView:
    details: dict[str, Doc] = doc.get("details") or {}
    reasons = []
    for reason in doc.get("reasons") or []:
        detail = details.get(reason, {})
        reasons.append(
            ReasonView(
                reason=reason,
                at=detail.get("at"),
                source=detail.get("source"),
                status=detail.get("status"),
                detail=detail.get("detail"),
                delivery_id=detail.get("delivery_id"),
                dispatch_id=detail.get("dispatch_id"),
                report_id=detail.get("report_id"),
                count=detail.get("count"),
            )
        )
    return SuppressionView(
        address=doc["address"],
        channel=doc.get("channel") or "email",
        reasons=reasons,
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


@get("/suppressions", opt=_MANAGE, summary="Suppressed e-mail addresses")
async def list_suppressions(
    runtime: NamedDependency[Runtime],
    search: Annotated[str | None, QueryParameter(description="part of the address")] = None,
    reason: Annotated[
        str | None, QueryParameter(description="hard-bounce, soft-bounces or complaint")
    ] = None,
    after: Annotated[str | None, QueryParameter(description="nextAfter of the previous page")] = None,
    limit: Limit = 100,
) -> SuppressionList:
    """The suppressions whose address contains ``search``, of one ``reason``, ordered by address."""
    if reason is not None and reason not in REASONS:
        raise RequestError(f"reason: must be one of {', '.join(REASONS)}, not {reason!r}")
    start = decode_cursor(after) if after else None
    docs = await runtime.suppressions.search(search, reason, after=start, limit=limit)
    return SuppressionList(items=[_view(doc) for doc in docs], next_after=next_cursor(docs, limit))


@get("/suppressions/{address:str}", opt=_MANAGE, summary="One suppression: why and when")
async def get_suppression(address: FromPath[str], runtime: NamedDependency[Runtime]) -> SuppressionDetail:
    """The suppression of an address, with the reports that led to it; 404 if it is not suppressed."""
    doc = await runtime.suppressions.get(address)
    if doc is None:
        raise NotFound(f"address: {address!r} is not suppressed")
    reports = [
        ReportView(
            id=r["_id"],
            source=r["source"],
            kind=r["kind"],
            severity=r.get("severity"),
            status=r.get("status"),
            diagnostic=r.get("diagnostic"),
            feedback_type=r.get("feedback_type"),
            delivery_id=r.get("delivery_id"),
            state=r.get("state") or "recorded",
            at=r["at"],
        )
        for r in await runtime.feedback.of_address(address)
    ]
    view = _view(doc)
    return SuppressionDetail(**msgspec.structs.asdict(view), reports=reports)


@delete("/suppressions/{address:str}", opt=_MANAGE, summary="Send to a suppressed address again")
async def delete_suppression(address: FromPath[str], runtime: NamedDependency[Runtime]) -> None:
    """Remove the suppression (its soft-bounce count starts again); 404 if there was none."""
    if not await runtime.feedback.forget(address):
        raise NotFound(f"address: {address!r} is not suppressed")


#: the route handlers of this module, registered by the application plugin
ROUTES = [list_suppressions, get_suppression, delete_suppression]
