"""``tidings apikey create|list|revoke``: API keys in the database at MONGODB_URL.

Without MONGODB_URL the commands work on the embedded mode's database (which ``tidings run`` must not be
using at the same time), like ``tidings staff create``.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from host.access.api_keys import SCOPES
from host.errors import RequestError

if TYPE_CHECKING:
    from host.access.api_keys import ApiKeys

__all__ = ["apikey"]

T = TypeVar("T")


async def _with_keys(url: str, database: str, work: Callable[[ApiKeys], Awaitable[T]]) -> T:
    from host.access.api_keys import ApiKeys
    from host.storage.store import open_client

    client = open_client(url)
    try:
        keys = ApiKeys(client[database])
        await keys.ensure_indexes()
        return await work(keys)
    finally:
        await client.close()


def _run(work: Callable[[ApiKeys], Awaitable[T]]) -> T:
    from host.runtime.embedded import configured_database

    try:
        with configured_database() as (url, database):
            return asyncio.run(_with_keys(url, database, work))
    except RequestError as exc:
        raise click.ClickException(exc.message) from None


@click.group()
def apikey() -> None:
    """API keys of the JSON API (sent as `Authorization: Bearer <key>`)."""


@apikey.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="send (/send, /saga/send), read (status and lists), manage (templates, clusters, users); repeat",
)
def create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key and print it, once: only its hash is stored."""
    made = _run(lambda keys: keys.create(name, scopes, created_by=f"cli:{getpass.getuser()}"))
    record = made.record
    click.echo(
        f"API key {record.prefix} {record.name!r} created, scopes: {', '.join(record.scopes)}.\n"
        "Store it now: it is shown only this once.",
        err=True,
    )
    click.echo(made.key)


@apikey.command("list")
def list_keys() -> None:
    """List the keys: prefix, name, scopes, when created and last used, revoked or not."""
    records = _run(lambda keys: keys.list())
    if not records:
        click.echo("no API keys")
        return
    for record in records:
        used = f"{record.last_used_at:%Y-%m-%d %H:%M}" if record.last_used_at else "never"
        state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
        click.echo(
            f"{record.prefix}  {record.name}  [{','.join(record.scopes)}]  "
            f"created {record.created_at:%Y-%m-%d %H:%M} by {record.created_by or '?'}  "
            f"last used {used}  {state}"
        )


@apikey.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key with this prefix (``tdk_...``, as `list` shows it); it stops working at once."""
    record = _run(lambda keys: keys.revoke(prefix.strip()))
    click.echo(f"API key {record.prefix} {record.name!r} revoked")
