"""Console pages for message templates: list and search, editor, live preview, send test, delete.

The editor sets the template's syntax (Jinja or Handlebars, which the preview renders with) and its
category (standard or transactional), saved through ``runtime.templates``, which compiles every field
first. HTML previews are framed from their own sandboxed URL (admin_ui.frames). "Send test to me"
dispatches the saved template to the staff member's own address through the normal path, as the user
``console:<their e-mail>`` that the console keeps for it; ``tidings run`` captures it in the inbox.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from admin_ui.console import Console
from admin_ui.frames import framed_html
from admin_ui.pages import PAGE_SIZE, client_redirect, page, partial
from admin_ui.preview import TEMPLATE_FIELDS, locales_json, parse_data, parse_locales, render_preview
from admin_ui.sessions import session_of
from host.audience.users import write_field
from host.dispatch.schemas import SendRequest
from host.errors import NotFound, RequestError, TidingsError
from host.runtime.wiring import Runtime
from host.storage.queries import name_query
from host.templates.locales import pick_variant, render_locale
from host.templates.rendering import Syntax

Doc = dict[str, Any]

__all__ = [
    "SYNTAXES",
    "delete_template",
    "edit_template",
    "list_templates",
    "new_template",
    "preview_frame",
    "preview_template",
    "save_template",
    "send_test",
    "send_test_to_me",
]

#: the editor's choices: value → label
SYNTAXES = {"jinja": "Jinja", "handlebars": "Handlebars (Mia templates)"}
CATEGORIES = {"standard": "Standard: honours opt-outs", "transactional": "Transactional: ignores opt-outs"}


async def _template(runtime: Runtime, template_id: str) -> Doc:
    """The template (by id, or by name) as the editor shows it: its document and its ``id``."""
    doc = await runtime.templates.find(template_id)
    return {**doc, "id": str(doc["_id"])}


def _sources(form: Any) -> dict[str, str]:
    return {key: str(form.get(key, "")) for key in TEMPLATE_FIELDS}


def _choice(form: Any, key: str, choices: dict[str, str], default: str | None = None) -> str:
    """The form's value for a select, checked (``default``, else the first choice, when absent)."""
    value = str(form.get(key) or default or next(iter(choices)))
    if value not in choices:
        raise ValueError(f"{key}: must be one of {', '.join(choices)}, not {value!r}")
    return value


def _editor(request: Request[Any, Any, Any], runtime: Runtime, template: Doc | None) -> Response[Any]:
    return page(
        request,
        "template_edit.html",
        template=template,
        fields=TEMPLATE_FIELDS,
        channels=list(runtime.registry),
        locales=locales_json(template.get("locales")) if template else "",
        syntaxes=SYNTAXES,
        categories=CATEGORIES,
        # a new template starts in the service's templateSyntax (Handlebars unless configured)
        syntax=(template or {}).get("syntax") or runtime.settings.config.template_syntax,
    )


@get("/templates", include_in_schema=False)
async def list_templates(request: HTMXRequest, runtime: NamedDependency[Runtime]) -> Response[Any]:
    """Templates by name; ``q`` searches names (case-insensitive)."""
    query = request.query_params.get("q", "").strip()
    docs = await runtime.templates.search(name_query(query, None), PAGE_SIZE * 4)
    templates = [{**doc, "id": str(doc["_id"])} for doc in docs]
    name = "_template_rows.html" if request.htmx else "templates.html"
    return page(request, name, templates=templates, q=query)


@get("/templates/new", include_in_schema=False)
async def new_template(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """An empty editor."""
    return _editor(request, runtime, None)


@get("/templates/{template_id:str}", include_in_schema=False)
async def edit_template(
    request: Request[Any, Any, Any], template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """The editor of one template, with its live preview."""
    return _editor(request, runtime, await _template(runtime, template_id))


async def _store(request: Request[Any, Any, Any], runtime: Runtime, template_id: str | None) -> Response[Any]:
    """Save the editor form as a new version of the template (host.templates.history)."""
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name:
        return partial(request, "_save_status.html", error="The template needs a name.")
    current = await runtime.templates.find(template_id) if template_id is not None else None
    fields: dict[str, Any] = {key: (text or None) for key, text in _sources(form).items()}
    try:
        fields["locales"] = parse_locales(str(form.get("locales", "")))
        fields["syntax"] = _choice(form, "syntax", SYNTAXES, runtime.settings.config.template_syntax)
        fields["category"] = _choice(form, "category", CATEGORIES)
    except ValueError as exc:
        return partial(request, "_save_status.html", error=str(exc))
    if current is not None:  # the editor does not show these: keep them
        for key in ("email_attachments", "push_data"):
            if key in current:
                fields[key] = current[key]
    fields["name"] = name
    who = session_of(request).get("staff")
    try:
        if current is None:
            doc = await runtime.templates.create(fields, who)
        else:
            doc = await runtime.templates.replace(current, fields, who)
    except RequestError as exc:
        if exc.status_code == 409 and exc.message.startswith("name:"):
            return partial(request, "_save_status.html", error=f"Another template is named {name!r}.")
        return partial(request, "_save_status.html", error=exc.message)
    if current is None:
        return client_redirect(f"/console/templates/{doc['_id']}")
    return partial(request, "_save_status.html", saved_at=doc["updated_at"], version=doc["version"])


@post("/templates", include_in_schema=False, status_code=200)
async def create_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Create a template from the editor form, then open its editor."""
    return await _store(request, runtime, None)


@post("/templates/{template_id:str}", include_in_schema=False, status_code=200)
async def save_template(
    request: Request[Any, Any, Any], template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Save the editor form over an existing template, as its next version."""
    return await _store(request, runtime, template_id)


@delete("/templates/{template_id:str}", include_in_schema=False, status_code=200)
async def delete_template(
    request: Request[Any, Any, Any], template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Delete (the page asks for confirmation first)."""
    await runtime.templates.delete(await runtime.templates.find(template_id))
    return client_redirect("/console/templates")


@post("/preview", include_in_schema=False, status_code=200)
async def preview_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], console: NamedDependency[Console]
) -> Response[Any]:
    """Render the editor's fields for the chosen user and sample data (the preview partial)."""
    form = await request.form()
    problems: list[str] = []
    chosen = form.get("syntax") or runtime.settings.config.template_syntax
    syntax: Syntax = "handlebars" if chosen == "handlebars" else "jinja"
    try:
        data = parse_data(str(form.get("data", "")))
    except ValueError as exc:
        problems.append(str(exc))
        data = {}
    user: dict[str, Any] = {}
    who = str(form.get("user", "")).strip()
    if who:
        found = await runtime.users.find(who)
        if found is None:
            problems.append(f"no user with id or e-mail {who!r}: rendering with an empty user")
        else:
            user = found
    # the variant and the formats follow the chosen locale, else the user's, as a delivery does
    locale = str(form.get("locale") or "").strip() or user.get(runtime.users.fields.locale)
    sources = _sources(form)
    variant = None
    try:
        variants = parse_locales(str(form.get("locales", "")))
        variant = pick_variant(variants, locale if isinstance(locale, str) else None)
        sources.update(variants.get(variant, {}) if variant else {})
    except ValueError as exc:
        problems.append(str(exc))
    preview = await render_preview(
        runtime.renderer, sources, user, data, locale=render_locale(locale), syntax=syntax
    )
    staff = str(session_of(request).get("staff"))
    frames = {
        key: await console.previews.keep(staff, result.text)
        for key, result in preview.fields.items()
        if result.html and not result.error
    }
    return partial(
        request,
        "_preview.html",
        preview=preview,
        problems=problems,
        fields=TEMPLATE_FIELDS,
        variant=variant,
        frames=frames,
    )


@get("/preview/frame/{token:str}", include_in_schema=False)
async def preview_frame(
    request: Request[Any, Any, Any], token: FromPath[str], console: NamedDependency[Console]
) -> Response[Any]:
    """One rendered HTML preview, as the document of its sandboxed frame (admin_ui.frames)."""
    try:
        html = await console.previews.html(str(session_of(request).get("staff")), token)
    except NotFound as exc:
        response = framed_html(f"<p>{escape(exc.message)}</p>")
        response.status_code = 404
        return response
    return framed_html(html)


@post("/templates/{template_id:str}/test", include_in_schema=False, status_code=200)
async def send_test(
    request: Request[Any, Any, Any], template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Send the saved template to one user on one channel, through the normal dispatch path."""
    template = await _template(runtime, template_id)
    form = await request.form()
    who = str(form.get("user", "")).strip()
    user = await runtime.users.find(who) if who else None
    if user is None:
        return partial(request, "_send_status.html", error="Pick a user (id or e-mail) to send the test to.")
    try:
        data = parse_data(str(form.get("data", "")))
        accepted = await runtime.dispatch.accept(
            SendRequest(
                channels=[str(form.get("channel", ""))],
                recipients=[runtime.users.id_of(user)],
                template_id=template["id"],
                data=data,
            )
        )
    except (ValueError, TidingsError) as exc:
        return partial(request, "_send_status.html", error=str(exc))
    return partial(request, "_send_status.html", dispatch_id=accepted.dispatch_id, failures=accepted.failures)


async def _staff_user(runtime: Runtime, staff: str) -> str:
    """The user the console keeps for a staff member's own tests: ``console:<e-mail>``, at that address."""
    fields = runtime.users.fields
    user_id = f"console:{staff}"
    record: Doc = {"name": staff.partition("@")[0], "tidingsConsoleStaff": True}
    write_field(record, fields.email_address, staff)
    await runtime.users.put(user_id, record)
    return user_id


@post("/templates/{template_id:str}/test-me", include_in_schema=False, status_code=200)
async def send_test_to_me(
    request: Request[Any, Any, Any], template_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """Send the saved template by e-mail to the logged-in staff member, through the normal dispatch path."""
    template = await _template(runtime, template_id)
    form = await request.form()
    staff = str(session_of(request).get("staff"))
    try:
        data = parse_data(str(form.get("data", "")))
        accepted = await runtime.dispatch.accept(
            SendRequest(
                channels=["email"],
                recipients=[await _staff_user(runtime, staff)],
                template_id=template["id"],
                data=data,
            )
        )
    except (ValueError, TidingsError) as exc:
        return partial(request, "_send_status.html", error=str(exc))
    return partial(
        request,
        "_send_status.html",
        dispatch_id=accepted.dispatch_id,
        failures=accepted.failures,
        to=staff,
        inbox=runtime.inbox is not None and "email" in runtime.registry.captured,
    )
