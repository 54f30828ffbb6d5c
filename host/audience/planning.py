"""Planning: which delivery each user of a dispatch gets on each channel, and the failures known now.

The fan-out runs the planner for every user of a cluster, so its per-channel work is done once per
dispatch; a delivery's id is deterministic (``<dispatch>:<channel>:<user>``), so a user reached twice
(listed and in a cluster), or a batch planned twice (a resumed fan-out), gets one delivery. A batch's
e-mails to suppressed addresses (host.audience.suppressions) are skipped by :meth:`DeliveryPlanner.
skip_suppressed`, which the fan-out runs in its write tasks, off the path that reads and plans users.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
from bson import DatetimeMS

from host.audience.opt_outs import OPTED_OUT, OptOutCheck, opted_out_message
from host.audience.suppressions import (
    SUPPRESSED,
    SuppressionLookup,
    Suppressions,
    suppressed_message,
    suppression_key,
)
from host.audience.users import (
    NOT_PUBLIC,
    expired_field,
    inactive_message,
    inactive_state,
    mapped_field,
    read_field,
)
from host.delivery.lifecycle import check
from host.errors import InvalidAddress
from host.plugins.channel import Channel
from host.settings import DEFAULT_LANE, Lane, UserFields

__all__ = [
    "ChannelRoute",
    "DeliveryPlanner",
    "Failure",
    "PlannedBatch",
    "channel_routes",
    "delivery_id",
    "skip_suppressed_together",
]

Doc = dict[str, Any]
#: a delivery's ``created_at``/``updated_at``: an aware datetime, or the same instant as a BSON datetime
Timestamp = datetime | DatetimeMS
#: the channel whose addresses suppressions name
SUPPRESSIBLE = "email"

# the planner writes its statuses without asking the lifecycle per document (the fan-out's hot path):
# these are the ones it uses, checked once here
for _status in ("queued", "skipped", "failed"):
    check(None, _status)


class Failure(msgspec.Struct, frozen=True, rename="camel"):
    """A delivery known to fail, as reported in the ``failures`` of /send (Mia's shape)."""

    user_id: str
    channel: str
    error: str


def delivery_id(dispatch_id: str, channel: str, user_id: str) -> str:
    """The deterministic id that makes a user reached twice (recipient and cluster) get one delivery."""
    return f"{dispatch_id}:{channel}:{user_id}"


def _expired_message(channel: str, field: str, expired: Mapping[str, Any]) -> str:
    when = expired.get("at")
    date = f" on {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, datetime) else ""
    return (
        f"the {channel} address in {field} expired: the provider reported it gone{date} "
        f"({expired.get('code') or 'gone'}); it is skipped until the user's {field} changes"
    )


class ChannelRoute(NamedTuple):
    """One requested channel and where its address lives in a user document."""

    name: str
    parse: Callable[[object], str]
    address_key: str  # the ``userFields`` key, for messages
    field: str
    expired: str
    dotted: bool


def channel_routes(channels: Sequence[tuple[str, Channel]], fields: UserFields) -> tuple[ChannelRoute, ...]:
    """Where each channel's address lives in a user document: a planner's per-channel work, which a
    caller planning many small dispatches on the same channels (listed sends) does once."""
    routes = []
    for name, channel in channels:
        field = mapped_field(fields, channel.address_field)
        parse, key = channel.parse_address, channel.address_field
        routes.append(ChannelRoute(name, parse, key, field, expired_field(field), "." in field))
    return tuple(routes)


class PlannedBatch:
    """The delivery documents of a batch of users, the failures known now, and the queued ids by channel."""

    __slots__ = ("docs", "failures", "queued", "suppressions_checked")

    def __init__(self, channels: Iterable[str]) -> None:
        self.docs: list[Doc] = []
        self.failures: list[Failure] = []
        self.queued: dict[str, list[str]] = {name: [] for name in channels}
        #: whether the e-mails' suppressions were looked up (once per batch)
        self.suppressions_checked = False


class DeliveryPlanner:
    """Plans the deliveries of one dispatch on its channels; built once, used for every batch of users.

    The fan-out runs this for every user of a cluster, so the per-channel lookups (mapped field, expiry
    field, bound parser) are done once here and a plain field is read with one ``dict.get``.
    """

    def __init__(
        self,
        dispatch_id: str,
        channels: Sequence[tuple[str, Channel]],
        fields: UserFields,
        opt_outs: OptOutCheck | None = None,
        suppressions: SuppressionLookup | None = None,
        priority: Lane = DEFAULT_LANE,
        routes: Sequence[ChannelRoute] | None = None,
    ) -> None:
        """``routes``: :func:`channel_routes` of these channels and fields, when the caller keeps them."""
        self.dispatch_id = dispatch_id
        #: every delivery keeps its dispatch's lane (host.settings.lanes), through retries and recovery
        self.priority = priority
        self._fields = fields
        self._opt_outs = opt_outs  # host.delivery.opt_out_checks.fanout_opt_outs; None: not checked
        self._suppressions = suppressions  # host.audience.suppressions; None: not checked
        self._routes = routes if routes is not None else channel_routes(channels, fields)

    async def plan_batch(
        self, users: Iterable[tuple[str, Mapping[str, Any] | None]], now: Timestamp
    ) -> PlannedBatch:
        """:meth:`plan` after looking up the batch's opt-outs (one query), if they apply."""
        users = list(users)
        return self.plan(users, now, await self._opted_out(lambda: [uid for uid, _ in users]))

    async def plan_members(self, batch: Sequence[Mapping[str, Any]], now: Timestamp) -> PlannedBatch:
        """:meth:`plan_batch` of a batch of a cluster's users as read (host.audience.users,
        ``stream_cluster_users``): each member with its mapped id; users without one, or soft-deleted (not
        members: Mia's CRUD lists only PUBLIC ones), are left out. One pass over the batch."""
        id_field = self._fields.id

        def user_ids() -> list[str]:
            ids = (read_field(user, id_field) for user in batch)
            return [str(uid) for uid in ids if uid is not None]

        return self._plan(batch, now, await self._opted_out(user_ids), as_read=True)

    async def _opted_out(self, user_ids: Callable[[], list[str]]) -> Container[str]:
        """The batch's opt-outs: none if they are not checked, the list if it was read whole, else the
        lookup of ``user_ids()`` (one query)."""
        opt_outs = self._opt_outs
        if opt_outs is None or isinstance(opt_outs, frozenset):
            return opt_outs or ()
        return await opt_outs(user_ids())

    def plan(
        self,
        users: Iterable[tuple[str, Mapping[str, Any] | None]],
        now: Timestamp,
        opted_out: Container[str] = (),
    ) -> PlannedBatch:
        """The deliveries of these users (``None`` for an unknown user) on every channel, in order.

        ``opted_out`` holds the ``<user id>:<channel>`` of the users' opt-outs (host.audience.opt_outs).
        """
        return self._plan(users, now, opted_out, as_read=False)

    def _plan(
        self, items: Iterable[Any], now: Timestamp, opted_out: Container[str], as_read: bool
    ) -> PlannedBatch:
        """:meth:`plan` of (id, user) pairs, or of :meth:`plan_members`' users as read (``as_read``)."""
        routes, dispatch_id, priority = self._routes, self.dispatch_id, self.priority
        planned = PlannedBatch(route.name for route in routes)
        docs, queued, failures = planned.docs, planned.queued, planned.failures
        fields, state, id_field = self._fields, self._fields.state, self._fields.id
        id_dotted = "." in id_field
        for item in items:
            inactive: str | None = None
            if as_read:  # a cluster's user as read: a member if it has an id and is not soft-deleted
                user = item
                uid = read_field(user, id_field) if id_dotted else user.get(id_field)
                if uid is None or (state is not None and inactive_state(fields, user) is not None):
                    continue
                user_id = uid if type(uid) is str else str(uid)
            else:
                user_id, user = item
                # a CRUD user soft-deleted (its state not PUBLIC) is skipped on every channel
                if user is not None and state is not None:
                    inactive = inactive_state(fields, user)
            for route in routes:
                name, parse, _, field, expired, dotted = route  # one unpacking, not five attribute reads
                address: str | None = None
                problem = None
                if inactive is not None:
                    problem = ("skipped", NOT_PUBLIC, inactive_message(fields, inactive))
                else:
                    # the common case in one dict.get and one parse; anything unusual takes the thorough path
                    if user is not None and not dotted and expired not in user:
                        raw = user.get(field)
                        if isinstance(raw, str):
                            try:
                                address = parse(raw)
                            except InvalidAddress:
                                address = None
                    if address is None:
                        address, problem = _check_address(route, user_id, user)
                doc_id = f"{dispatch_id}:{name}:{user_id}"  # delivery_id(), inlined on the hot path
                doc: Doc = {
                    "_id": doc_id,
                    "dispatch_id": dispatch_id,
                    "channel": name,
                    "user_id": user_id,
                    "address": address,
                    "status": "queued",
                    "priority": priority,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                if problem is None and opted_out and f"{user_id}:{name}" in opted_out:
                    problem = ("skipped", OPTED_OUT, opted_out_message(name))
                if problem is None:
                    queued[name].append(doc_id)
                else:
                    status, code, message = problem
                    doc["status"] = status
                    doc["last_error"] = {"channel": name, "code": code, "message": message}
                    failures.append(Failure(user_id=user_id, channel=name, error=message))
                docs.append(doc)
        return planned

    async def skip_suppressed(self, planned: PlannedBatch) -> None:
        """Skip the batch's queued e-mails to suppressed addresses (one lookup), in place."""
        queued = self.suppressible(planned)
        if queued and self._suppressions is not None:
            self.skip_these(planned, queued, await self._suppressions([doc["address"] for doc in queued]))

    def suppressible(self, planned: PlannedBatch) -> list[Doc]:
        """The batch's queued e-mails whose suppressions are to be looked up (none if this planner does
        not check them, or they were); marks the batch checked. :meth:`skip_suppressed` is this, the
        lookup and :meth:`skip_these`; a caller holding many batches looks them all up at once."""
        candidates = planned.queued.get(SUPPRESSIBLE)
        if self._suppressions is None or not candidates or planned.suppressions_checked:
            return []
        planned.suppressions_checked = True
        return [doc for doc in planned.docs if doc["channel"] == SUPPRESSIBLE and doc["status"] == "queued"]

    def skip_these(
        self, planned: PlannedBatch, queued: Sequence[Doc], suppressed: Mapping[str, Sequence[str]]
    ) -> None:
        """Skip those of ``queued`` (:meth:`suppressible`) whose key ``suppressed`` gives blocking reasons."""
        if not suppressed:
            return
        candidates = planned.queued[SUPPRESSIBLE]
        gone: set[str] = set()
        for doc in queued:
            reasons = suppressed.get(suppression_key(doc["address"]))
            if reasons:
                message = suppressed_message(reasons)
                doc["status"] = "skipped"
                doc["last_error"] = {"channel": SUPPRESSIBLE, "code": SUPPRESSED, "message": message}
                planned.failures.append(Failure(user_id=doc["user_id"], channel=SUPPRESSIBLE, error=message))
                gone.add(doc["_id"])
        planned.queued[SUPPRESSIBLE] = [doc_id for doc_id in candidates if doc_id not in gone]


async def skip_suppressed_together(
    batches: Sequence[tuple[DeliveryPlanner, PlannedBatch, str | None]], suppressions: Suppressions
) -> None:
    """:meth:`DeliveryPlanner.skip_suppressed` of many small batches, each with its dispatch's category,
    with one read for all and no task each (a group of 50 listed sends gathered tasks for ~8 µs a send)."""
    queued = [planner.suppressible(batch) for planner, batch, _ in batches]
    found = await suppressions.lookup_many(
        [
            (category, [doc["address"] for doc in docs])
            for (_, _, category), docs in zip(batches, queued, strict=True)
        ]
    )
    for (planner, batch, _), docs, suppressed in zip(batches, queued, found, strict=True):
        if docs:
            planner.skip_these(batch, docs, suppressed)


def _check_address(
    route: ChannelRoute, user_id: str, user: Mapping[str, Any] | None
) -> tuple[str | None, tuple[str, str, str] | None]:
    """The thorough look at one user and channel: the address, and (status, code, message) if it fails."""
    if user is None:
        return None, ("skipped", "unknown-recipient", f"no user with id {user_id!r}")
    raw = read_field(user, route.field)
    if raw is None or raw == "" or raw == {}:
        return None, ("skipped", "no-address", f"user has no {route.address_key} ({route.field})")
    try:
        address = route.parse(raw)
    except InvalidAddress as exc:
        return None, ("failed", exc.code or "invalid-address", exc.message)
    expired = read_field(user, route.expired)
    if isinstance(expired, Mapping) and expired.get("address") == address:
        return address, ("skipped", "address-expired", _expired_message(route.name, route.field, expired))
    return address, None
