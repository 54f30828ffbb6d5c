"""The opt-out API: list, record and remove a user's opt-outs, per channel (scope ``manage``).

Opt-outs are stored by Tidings (host.audience.opt_outs); a delivery to an opted-out user ends ``skipped`` with
the code ``opted-out``, except for transactional templates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from host.errors import NotFound, RequestError
from host.runtime.wiring import Runtime

__all__ = [
    "ROUTES",
    "OptOutBody",
    "OptOutList",
    "OptOutView",
    "delete_opt_out",
    "get_opt_outs",
    "opt_out_view",
    "put_opt_out",
]

Doc = dict[str, Any]
_MANAGE = {"scope": "manage"}


class OptOutBody(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """An optional reason, kept with the opt-out."""

    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class OptOutView(msgspec.Struct, rename="camel", kw_only=True):
    """One opt-out: the user, the channel, when, how (``link``, ``console`` or ``api``) and why."""

    user_id: str
    channel: str
    at: datetime
    source: str
    reason: str | None = None


class OptOutList(msgspec.Struct, rename="camel", kw_only=True):
    """A user's opt-outs, by channel."""

    items: list[OptOutView]


def opt_out_view(doc: Doc) -> OptOutView:
    """A stored opt-out as the API shows it."""
    return OptOutView(
        user_id=doc["user_id"],
        channel=doc["channel"],
        at=doc["at"],
        source=doc.get("source") or "api",
        reason=doc.get("reason"),
    )


@get("/users/{user_id:str}/opt-outs", opt=_MANAGE, summary="A user's opt-outs")
async def get_opt_outs(user_id: FromPath[str], runtime: NamedDependency[Runtime]) -> OptOutList:
    """The channels the user opted out of (kept even if the user document is deleted)."""
    return OptOutList(items=[opt_out_view(doc) for doc in await runtime.opt_outs.of_user(user_id)])


@put("/users/{user_id:str}/opt-outs/{channel:str}", opt=_MANAGE, summary="Opt a user out of a channel")
async def put_opt_out(
    user_id: FromPath[str],
    channel: FromPath[str],
    runtime: NamedDependency[Runtime],
    data: JSONBody[OptOutBody | None] = None,
) -> OptOutView:
    """Deliveries to the user on this channel are skipped from now on (transactional mail excepted)."""
    if channel not in runtime.registry:
        active = ", ".join(runtime.registry)
        raise RequestError(f"channel: {channel!r} is not active (active: {active})")
    if not await runtime.users.exists(user_id):
        raise NotFound(f"id: no user with {runtime.users.fields.id} {user_id!r}")
    reason = data.reason if data is not None else None
    return opt_out_view(await runtime.opt_outs.record(user_id, channel, "api", reason))


@delete("/users/{user_id:str}/opt-outs/{channel:str}", opt=_MANAGE, summary="Opt a user back in")
async def delete_opt_out(
    user_id: FromPath[str], channel: FromPath[str], runtime: NamedDependency[Runtime]
) -> None:
    """The user is reached on this channel again; 404 if there was no opt-out."""
    if not await runtime.opt_outs.remove(user_id, channel):
        raise NotFound(f"channel: user {user_id!r} has not opted out of {channel!r}")


#: the route handlers of this module, registered by the application plugin
ROUTES = [get_opt_outs, put_opt_out, delete_opt_out]
