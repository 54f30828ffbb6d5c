"""Console pages for staff accounts (admins only): list, create an editor or an admin, disable, enable."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from pymongo.errors import DuplicateKeyError

from admin_ui.console import Console
from admin_ui.pages import page
from admin_ui.roles import ADMIN_ONLY
from admin_ui.sessions import session_of
from admin_ui.staff import ROLES, normalise_email
from host.errors import NotFound

__all__ = ["create_staff_account", "disable_staff", "enable_staff", "list_staff"]


async def _staff_view(
    request: HTMXRequest, console: Console, *, error: str = "", message: str = ""
) -> Response[Any]:
    accounts = await console.accounts.list()
    name = "_staff.html" if request.htmx else "staff.html"
    me = session_of(request).get("staff")
    return page(request, name, accounts=accounts, roles=ROLES, me=me, error=error, message=message)


@get("/staff", opt=ADMIN_ONLY, include_in_schema=False)
async def list_staff(request: HTMXRequest, console: NamedDependency[Console]) -> Response[Any]:
    """Every staff account with its role, last login, and whether it is disabled."""
    return await _staff_view(request, console)


@post("/staff", opt=ADMIN_ONLY, include_in_schema=False, status_code=200)
async def create_staff_account(request: HTMXRequest, console: NamedDependency[Console]) -> Response[Any]:
    """Create an account from the form (e-mail, password, role)."""
    form = await request.form()
    try:
        fields = await console.accounts.create(
            str(form.get("email", "")), str(form.get("password", "")), str(form.get("role", "editor"))
        )
    except ValueError as exc:
        return await _staff_view(request, console, error=str(exc).capitalize() + ".")
    except DuplicateKeyError:
        return await _staff_view(request, console, error="An account with this address exists already.")
    created = f"Account {fields['email']} ({fields['role']}) created."
    return await _staff_view(request, console, message=created)


async def _set_disabled(
    request: HTMXRequest, console: Console, email: str, *, disabled: bool
) -> Response[Any]:
    address = normalise_email(email)
    if disabled and address == session_of(request).get("staff"):
        return await _staff_view(request, console, error="You cannot disable your own account.")
    if not await console.accounts.set_disabled(address, disabled):
        raise NotFound(f"no staff account {address!r}")
    state = "disabled: its sessions end at their next request" if disabled else "enabled"
    return await _staff_view(request, console, message=f"Account {address} {state}.")


@post("/staff/{email:str}/disable", opt=ADMIN_ONLY, include_in_schema=False, status_code=200)
async def disable_staff(
    request: HTMXRequest, email: FromPath[str], console: NamedDependency[Console]
) -> Response[Any]:
    """Disable an account (never one's own, so an admin always remains)."""
    return await _set_disabled(request, console, email, disabled=True)


@post("/staff/{email:str}/enable", opt=ADMIN_ONLY, include_in_schema=False, status_code=200)
async def enable_staff(
    request: HTMXRequest, email: FromPath[str], console: NamedDependency[Console]
) -> Response[Any]:
    """Enable a disabled account again."""
    return await _set_disabled(request, console, email, disabled=False)
