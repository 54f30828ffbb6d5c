"""Console pages for clusters (with their members) and users (search, mapped fields, raw document)."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from pymongo.errors import DuplicateKeyError

from admin_ui.opt_out_pages import opt_out_context
from admin_ui.pages import PAGE_SIZE, is_htmx, page, partial
from admin_ui.user_lookup import find_user, id_values, user_id_of
from host.audience.users import read_field
from host.errors import NotFound
from host.runtime.wiring import Runtime
from host.storage.documents import Cluster

__all__ = [
    "cluster_page",
    "create_cluster",
    "delete_cluster",
    "list_clusters",
    "list_users",
    "save_cluster",
    "user_page",
]


def _skip(request: Request[Any, Any, Any]) -> int:
    try:
        return max(int(request.query_params.get("skip", "0")), 0)
    except ValueError:
        return 0


@get("/clusters", include_in_schema=False)
async def list_clusters(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Clusters by name, with how many users are in each."""
    clusters = await Cluster.find_all().sort("name").to_list()
    field = runtime.store.fields.clusters
    members = {c.name: await runtime.store.users.count_documents({field: c.name}) for c in clusters}
    return page(request, "clusters.html", clusters=clusters, members=members)


@post("/clusters", include_in_schema=False, status_code=200)
async def create_cluster(request: Request[Any, Any, Any]) -> Response[Any]:
    """Create a cluster from the form, then open its page."""
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name:
        return partial(request, "_save_status.html", error="The cluster needs a name.")
    try:
        await Cluster(name=name, description=str(form.get("description", ""))).insert()
    except DuplicateKeyError:
        return partial(request, "_save_status.html", error=f"A cluster named {name!r} exists already.")
    return Response(content="", headers={"HX-Redirect": f"/console/clusters/{name}"})


async def _cluster(name: str) -> Cluster:
    cluster = await Cluster.find_one(Cluster.name == name)
    if cluster is None:
        raise NotFound(f"no cluster {name!r}")
    return cluster


@get("/clusters/{name:str}", include_in_schema=False)
async def cluster_page(
    request: Request[Any, Any, Any], name: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One cluster, its description, and its members, paginated."""
    cluster = await _cluster(name)
    skip = _skip(request)
    criteria = {runtime.store.fields.clusters: name}
    users = await runtime.store.users.find(criteria).sort("_id", 1).skip(skip).limit(PAGE_SIZE).to_list()
    total = await runtime.store.users.count_documents(criteria)
    rows = [_user_row(runtime, user) for user in users]
    return page(request, "cluster.html", cluster=cluster, users=rows, total=total, skip=skip, size=PAGE_SIZE)


@post("/clusters/{name:str}", include_in_schema=False, status_code=200)
async def save_cluster(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[Any]:
    """Save the description (membership lives on the users, SPEC §1)."""
    cluster = await _cluster(name)
    form = await request.form()
    cluster.description = str(form.get("description", ""))
    await cluster.save()
    return partial(request, "_save_status.html", saved_at=cluster.created_at, message="Saved.")


@delete("/clusters/{name:str}", include_in_schema=False, status_code=200)
async def delete_cluster(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[Any]:
    """Delete the cluster document (users keep the name in their clusters field)."""
    await (await _cluster(name)).delete()
    return Response(content="", headers={"HX-Redirect": "/console/clusters"})


def _user_row(runtime: Runtime, user: dict[str, Any]) -> dict[str, Any]:
    fields = runtime.store.fields
    return {
        "id": user_id_of(runtime.store, user),
        "email": read_field(user, fields.email_address),
        "phone": read_field(user, fields.phone_number),
        "clusters": read_field(user, fields.clusters) or [],
    }


@get("/users", include_in_schema=False)
async def list_users(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Users matching ``q`` on id, e-mail, phone or cluster (prefix, case-insensitive), paginated."""
    fields = runtime.store.fields
    query = request.query_params.get("q", "").strip()
    criteria: dict[str, Any] = {}
    if query:
        prefix = {"$regex": "^" + re.escape(query), "$options": "i"}
        criteria = {
            "$or": [
                {fields.id: {"$in": id_values(runtime.store, query)}},
                {fields.email_address: prefix},
                {fields.phone_number: prefix},
                {fields.clusters: query},
            ]
        }
    skip = _skip(request)
    users = await runtime.store.users.find(criteria).sort("_id", 1).skip(skip).limit(PAGE_SIZE + 1).to_list()
    rows = [_user_row(runtime, user) for user in users[:PAGE_SIZE]]
    name = "_user_rows.html" if is_htmx(request) else "users.html"
    return page(request, name, users=rows, q=query, skip=skip, size=PAGE_SIZE, more=len(users) > PAGE_SIZE)


@get("/users/{user_id:str}", include_in_schema=False)
async def user_page(
    request: Request[Any, Any, Any], user_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One user: the fields Tidings maps, the raw document, and their recent deliveries."""
    user = await find_user(runtime.store, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    mapped = {
        key: (path, read_field(user, path))
        for key, path in msgspec.structs.asdict(runtime.store.fields).items()
    }
    raw = json.dumps(user, indent=2, default=str, ensure_ascii=False)
    uid = user_id_of(runtime.store, user)
    deliveries = (
        await runtime.store.deliveries.find({"user_id": uid}).sort("created_at", -1).limit(20).to_list()
    )
    opt_outs = await opt_out_context(runtime, uid)  # the user's opt-outs panel (admin_ui.opt_out_pages)
    return page(request, "user.html", mapped=mapped, raw=raw, deliveries=deliveries, **opt_outs)
