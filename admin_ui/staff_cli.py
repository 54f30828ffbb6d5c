"""``tidings staff create EMAIL [--role editor]`` and the first-run account of the embedded mode."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from pymongo.errors import DuplicateKeyError

from admin_ui.staff import FIRST_STAFF_EMAIL, ROLES, StaffAccounts
from host.storage.store import open_client

__all__ = ["announce_first_staff", "staff"]

T = TypeVar("T")


async def _with_staff(url: str, database: str, work: Callable[[StaffAccounts], Awaitable[T]]) -> T:
    client = open_client(url)
    try:
        accounts = StaffAccounts(client[database])
        await accounts.ensure_indexes()
        return await work(accounts)
    finally:
        await client.close()


@click.group()
def staff() -> None:
    """Staff accounts of the console (/console)."""


@staff.command("create")
@click.argument("email")
@click.password_option(help="the password (prompted for, hidden, twice, when not given)")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="admin",
    show_default=True,
    help="admin: staff accounts, API keys and everything else; editor: templates, clusters, users, "
    "dispatches and the failure log",
)
def create(email: str, password: str, role: str) -> None:
    """Create a staff account in the database at MONGODB_URL (MONGODB_DATABASE, default tidings)."""
    from host.runtime.embedded import configured_database

    # without MONGODB_URL: the embedded mode's database (`tidings run` must not be using it now)
    with configured_database() as (url, database):
        _create(url, database, email, password, role)


def _create(url: str, database: str, email: str, password: str, role: str) -> None:
    try:
        account = asyncio.run(
            _with_staff(url, database, lambda accounts: accounts.create(email, password, role))
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except DuplicateKeyError:
        raise click.ClickException(f"a staff account {email!r} exists already") from None
    click.echo(f"staff account {account['email']} ({account['role']}) created")


def announce_first_staff(url: str, database: str, console_url: str) -> None:
    """With no staff account yet, create ``admin@tidings.localhost`` and print its one-time password, once."""
    password = asyncio.run(_with_staff(url, database, lambda accounts: accounts.ensure_first()))
    if password is not None:
        click.echo(
            f"\nFirst start: a console account was created at {console_url}\n"
            f"  e-mail    {FIRST_STAFF_EMAIL}\n"
            f"  password  {password}\n"
            "  (shown only this once; add your own with `tidings staff create EMAIL`)\n"
        )
