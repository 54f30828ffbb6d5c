"""Console pages for clusters (with their members) and users (search, mapped fields, raw document)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.opt_out_pages import opt_out_context
from admin_ui.pages import PAGE_SIZE, client_redirect, console_path, page, partial, skip_of
from host.audience.users import read_field
from host.errors import NotFound, RequestError
from host.runtime.wiring import Runtime

__all__ = [
    "cluster_page",
    "create_cluster",
    "delete_cluster",
    "list_clusters",
    "list_users",
    "save_cluster",
    "user_page",
]


@get("/clusters", include_in_schema=False)
async def list_clusters(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Clusters by name, with how many users are in each."""
    clusters = await runtime.clusters.search(limit=10_000)
    members = {c["name"]: await runtime.clusters.members(c) for c in clusters}
    return page(request, "clusters.html", clusters=clusters, members=members)


@post("/clusters", include_in_schema=False, status_code=200)
async def create_cluster(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Create a cluster from the form, then open its page."""
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name:
        return partial(request, "_save_status.html", error="The cluster needs a name.")
    try:
        await runtime.clusters.create(name, str(form.get("description", "")))
    except RequestError:
        return partial(request, "_save_status.html", error=f"A cluster named {name!r} exists already.")
    return client_redirect(console_path("clusters", name))


@get("/clusters/{name:str}", include_in_schema=False)
async def cluster_page(
    request: Request[Any, Any, Any], name: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One cluster, its description, and its members, paginated."""
    cluster = await runtime.clusters.get(name)
    skip = skip_of(request)
    criteria = runtime.users.members_filter(name)
    users = await runtime.users.page(criteria, skip=skip, limit=PAGE_SIZE)
    total = await runtime.users.count(criteria)
    rows = [_user_row(runtime, user) for user in users]
    return page(request, "cluster.html", cluster=cluster, users=rows, total=total, skip=skip, size=PAGE_SIZE)


@post("/clusters/{name:str}", include_in_schema=False, status_code=200)
async def save_cluster(
    request: Request[Any, Any, Any], name: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Save the description (membership lives on the users, SPEC §1)."""
    form = await request.form()
    cluster = await runtime.clusters.describe(name, str(form.get("description", "")))
    return partial(request, "_save_status.html", saved_at=cluster.get("created_at"), message="Saved.")


@delete("/clusters/{name:str}", include_in_schema=False, status_code=200)
async def delete_cluster(
    request: Request[Any, Any, Any], name: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Delete the cluster document (users keep the name in their clusters field)."""
    await runtime.clusters.delete(name)
    return client_redirect("/console/clusters")


def _user_row(runtime: Runtime, user: dict[str, Any]) -> dict[str, Any]:
    fields = runtime.users.fields
    return {
        "id": runtime.users.id_of(user),
        "email": read_field(user, fields.email_address),
        "phone": read_field(user, fields.phone_number),
        "clusters": read_field(user, fields.clusters) or [],
    }


@get("/users", include_in_schema=False)
async def list_users(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Users matching ``q`` on id, e-mail, phone or cluster (prefix, case-insensitive), paginated."""
    query = request.query_params.get("q", "").strip()
    skip = skip_of(request)
    users = await runtime.users.page(runtime.users.search_filter(query), skip=skip, limit=PAGE_SIZE + 1)
    rows = [_user_row(runtime, user) for user in users[:PAGE_SIZE]]
    name = "_user_rows.html" if request.htmx else "users.html"
    return page(request, name, users=rows, q=query, skip=skip, size=PAGE_SIZE, more=len(users) > PAGE_SIZE)


@get("/users/{user_id:str}", include_in_schema=False)
async def user_page(
    request: Request[Any, Any, Any], user_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """One user: the fields Tidings maps, the raw document, and their recent deliveries."""
    user = await runtime.users.find(user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    mapped = {
        key: (path, read_field(user, path))
        for key, path in msgspec.structs.asdict(runtime.users.fields).items()
        if path is not None  # userFields.quietHours is read only when mapped
    }
    raw = json.dumps(user, indent=2, default=str, ensure_ascii=False)
    uid = runtime.users.id_of(user)
    deliveries = await runtime.dispatches.deliveries(
        {"user_id": uid}, sort="created_at", descending=True, limit=20
    )
    opt_outs = await opt_out_context(runtime, uid)  # the user's opt-outs panel (admin_ui.opt_out_pages)
    return page(request, "user.html", mapped=mapped, raw=raw, deliveries=deliveries, **opt_outs)
