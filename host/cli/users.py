"""``tidings users import FILE``: stream users from CSV, NDJSON or a JSON array into MONGODB_URL."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # imported when a command runs, so `tidings --help` stays quick
    from host.audience.user_import import BulkResult, UserUpserter

__all__ = ["users"]

_CHUNK = 1 << 16
_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json"}
_ERRORS_SHOWN = 20


class _CountingReader(io.RawIOBase):
    """A binary file that moves a progress bar by the bytes read through it."""

    def __init__(self, raw: io.BufferedReader, bar: Any) -> None:
        self._raw = raw
        self._bar = bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        read = self._raw.readinto(buffer)
        self._bar.update(read or 0)
        return read or 0


async def _chunks(reader: io.RawIOBase) -> AsyncIterator[bytes]:
    while chunk := reader.read(_CHUNK):
        yield chunk


async def _csv(reader: io.RawIOBase, upserter: UserUpserter, fields: Any) -> None:
    from host.audience.user_import import csv_records

    text = io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8-sig", newline="")
    rows: Iterator[tuple[int, dict[str, Any]]] = csv_records(text, fields)
    for line, user in rows:
        await upserter.add(line, user)


async def _import(path: Path, file_format: str, batch_size: int, bar: Any) -> BulkResult:
    from host.audience.user_import import UserUpserter
    from host.audience.user_records import RecordError, json_array_records, ndjson_records
    from host.settings import load_settings
    from host.storage.store import Store

    settings = load_settings()
    store = Store.connect(settings)
    try:
        await store.ensure_user_indexes()
        upserter = UserUpserter(store.users, store.fields, batch_size=batch_size)
        with path.open("rb") as raw:
            reader = _CountingReader(raw, bar)
            try:
                if file_format == "csv":
                    await _csv(reader, upserter, store.fields)
                else:
                    split = ndjson_records if file_format == "ndjson" else json_array_records
                    async for line, record in split(_chunks(reader)):
                        await upserter.add(line, record)
            except RecordError as exc:
                upserter.reject(exc.line, exc.message)
        return await upserter.finish()
    finally:
        await store.close()


@click.group()
def users() -> None:
    """Manage the users collection."""


@users.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "ndjson", "json"]),
    help="csv (header row; clusters split on ';'), ndjson (one user per line) or json (an array); "
    "by default from the file's extension",
)
@click.option("--batch-size", default=1000, show_default=True, help="users written per bulk write")
def import_users(file: Path, file_format: str | None, batch_size: int) -> None:
    """Create or replace the users of FILE by their mapped id, streaming it in batches."""
    file_format = file_format or _FORMATS.get(file.suffix.lower())
    if file_format is None:
        raise click.UsageError(f"cannot tell the format of {file.name}: pass --format csv|ndjson|json")
    with click.progressbar(length=file.stat().st_size, label=f"importing {file.name}", file=None) as bar:
        result = asyncio.run(_import(file, file_format, batch_size, bar))
    click.echo(
        f"upserted {result.upserted}, modified {result.modified}, "
        f"unchanged {result.matched - result.modified}, failed {result.failed}"
    )
    for error in result.errors[:_ERRORS_SHOWN]:
        click.echo(f"  line {error.line}: {error.message}", err=True)
    if result.failed > _ERRORS_SHOWN:
        click.echo(f"  ... and {result.failed - _ERRORS_SHOWN} more", err=True)
    if result.failed:
        raise SystemExit(1)
