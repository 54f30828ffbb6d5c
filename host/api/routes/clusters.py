"""Tidings' own cluster API: named groups of users, with member counts and member lists.

Membership lives on the users (their mapped ``clusters`` field); a cluster document gives the group a
description so staff can see and manage it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from host.api.paging import Limit
from host.api.routes.users import UserPage, page_of_users
from host.runtime.wiring import Runtime

__all__ = [
    "ROUTES",
    "ClusterBody",
    "ClusterPage",
    "ClusterUpdate",
    "ClusterView",
    "create_cluster",
    "delete_cluster",
    "get_cluster",
    "list_cluster_members",
    "list_clusters",
    "update_cluster",
]

Doc = dict[str, Any]


class ClusterUpdate(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """What can change on a cluster: its description (renaming would mean rewriting every member)."""

    description: str = ""


class ClusterBody(ClusterUpdate, kw_only=True):
    """A new cluster: a unique name and a description."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ClusterView(msgspec.Struct, rename="camel", kw_only=True):
    """A cluster and how many users are in it now."""

    name: str
    description: str
    members: int
    created_at: datetime | None = None


class ClusterPage(msgspec.Struct, rename="camel", kw_only=True):
    """A page of clusters in name order; pass ``nextAfter`` as ``after`` for the next page."""

    items: list[ClusterView]
    next_after: str | None


async def _view(runtime: Runtime, doc: Doc) -> ClusterView:
    return ClusterView(
        name=doc["name"],
        description=doc.get("description", ""),
        members=await runtime.clusters.members(doc),
        created_at=doc.get("created_at"),
    )


@get("/clusters", summary="List clusters with their member counts")
async def list_clusters(
    runtime: NamedDependency[Runtime],
    name: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
    limit: Limit = 100,
) -> ClusterPage:
    """Clusters in name order; ``name`` matches any part of the name, ignoring case."""
    items = [await _view(runtime, doc) for doc in await runtime.clusters.search(name, after, limit)]
    return ClusterPage(items=items, next_after=items[-1].name if len(items) == limit else None)


@get("/clusters/{name:str}", summary="A cluster with its member count")
async def get_cluster(name: FromPath[str], runtime: NamedDependency[Runtime]) -> ClusterView:
    """The cluster named so."""
    return await _view(runtime, await runtime.clusters.get(name))


@post("/clusters", status_code=201, summary="Create a cluster")
async def create_cluster(data: JSONBody[ClusterBody], runtime: NamedDependency[Runtime]) -> ClusterView:
    """409 if the name is taken. Users already listing the name count as members at once."""
    return await _view(runtime, await runtime.clusters.create(data.name, data.description))


@put("/clusters/{name:str}", summary="Update a cluster's description")
async def update_cluster(
    name: FromPath[str], data: JSONBody[ClusterUpdate], runtime: NamedDependency[Runtime]
) -> ClusterView:
    """Only the description changes; the name is the cluster's identity on every member."""
    return await _view(runtime, await runtime.clusters.describe(name, data.description))


@delete("/clusters/{name:str}", summary="Delete a cluster")
async def delete_cluster(name: FromPath[str], runtime: NamedDependency[Runtime]) -> None:
    """Removes the cluster document; users keep the name in their list (sending to it still works)."""
    await runtime.clusters.delete(name)


@get("/clusters/{name:str}/members", summary="The users of a cluster, paginated")
async def list_cluster_members(
    name: FromPath[str],
    runtime: NamedDependency[Runtime],
    after: FromQuery[str | None] = None,
    limit: Limit = 100,
) -> UserPage:
    """Users whose clusters field lists this name, in ``_id`` order (the cluster document is optional)."""
    return await page_of_users(runtime, runtime.users.members_filter(name), after, limit)


#: the route handlers of this module, registered by the application plugin
ROUTES = [list_clusters, get_cluster, create_cluster, update_cluster, delete_cluster, list_cluster_members]
