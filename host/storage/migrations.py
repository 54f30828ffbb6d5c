"""Schema migrations: Beanie's own runner, made to work without sessions, and the start-up check.

Beanie's runner always opens a client session, even with ``--no-use-transaction``, and the development
database has none (NOTES, "Migrations"): :func:`_run_without_session` replaces the one method that opens
it, so both ``@free_fall_migration`` and ``@iterative_migration`` steps run with ``session=None``.
The steps live in ``migrations/`` of a source checkout, or ``host/storage/_migrations`` of an installed wheel.

At start-up the service compares the migration files with ``migrations_log`` (one ``find_one``) and
refuses to run on a database that is behind, unless told to apply them (``--migrate`` or
``TIDINGS_AUTO_MIGRATE=1``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from beanie.executors.migrate import MigrationSettings, run_migrate
from beanie.executors.migrate import migrate as beanie_migrate
from beanie.migrations.controllers.base import BaseMigrationController
from beanie.migrations.database import DBHandler
from beanie.migrations.runner import MigrationNode

from host.errors import ConfigurationError, TidingsError
from host.settings import Settings
from host.storage.store import open_client

__all__ = [
    "AUTO_MIGRATE_ENV",
    "MIGRATIONS_LOG",
    "PendingMigrations",
    "apply_migrations",
    "ensure_migrated",
    "migration_names",
    "migrations_dir",
    "pending_migrations",
    "run_beanie_cli",
]

log = logging.getLogger(__name__)

AUTO_MIGRATE_ENV = "TIDINGS_AUTO_MIGRATE"
MIGRATIONS_LOG = "migrations_log"

_STORAGE = Path(__file__).resolve().parent


class PendingMigrations(TidingsError):
    """The database is behind the code: migrations are waiting to be applied."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(
            f"the database has {len(names)} pending migration(s) ({', '.join(names)}): run "
            f"`tidings migrate`, or start with --migrate or {AUTO_MIGRATE_ENV}=1 to apply them"
        )
        self.names = list(names)


def migrations_dir() -> Path:
    """The migrations folder: ``host/storage/_migrations`` in a wheel, else ``migrations/``."""
    packaged = _STORAGE / "_migrations"
    return packaged if packaged.is_dir() else _STORAGE.parents[1] / "migrations"


def migration_names(path: Path | None = None) -> list[str]:
    """The migration files in the order Beanie runs them (names starting with ``_`` are skipped)."""
    return sorted(p.name for p in (path or migrations_dir()).glob("[!_]*.py"))


async def pending_migrations(settings: Settings, path: Path | None = None) -> list[str]:
    """The migration files after the one ``migrations_log`` marks current (all of them if none is)."""
    names = migration_names(path)
    if not names:
        return []
    client = open_client(_database_url(settings))
    try:
        current = await client[settings.env.mongodb_database][MIGRATIONS_LOG].find_one(
            {"is_current": True}, {"name": 1}
        )
    finally:
        await client.close()
    if current is None or current["name"] == "root":  # Beanie marks "root" current after a full rollback
        return names
    return [name for name in names if name > current["name"]]


def _database_url(settings: Settings) -> str:
    if not settings.env.mongodb_url:
        raise ConfigurationError("MONGODB_URL", "environment variable is not set")
    return settings.env.mongodb_url


async def _run_without_session(
    self: MigrationNode, cls: type, allow_index_dropping: bool, use_transaction: bool
) -> None:
    steps = [getattr(cls, name) for name in dir(cls)]
    steps = [step for step in steps if isinstance(step, BaseMigrationController)]
    await self.run_migrations(steps, DBHandler.get_db(), allow_index_dropping, None)  # type: ignore[no-untyped-call, arg-type]


def _patch_runner() -> None:
    MigrationNode.run_migration_class = _run_without_session  # type: ignore[method-assign]


async def apply_migrations(
    settings: Settings, *, backward: bool = False, distance: int = 0, path: Path | None = None
) -> None:
    """Run the migrations in this event loop through Beanie's runner (``distance`` 0: all of them)."""
    _patch_runner()
    options: dict[str, Any] = {
        "direction": "BACKWARD" if backward else "FORWARD",
        "connection_uri": _database_url(settings),
        "database_name": settings.env.mongodb_database,
        "path": str(path or migrations_dir()),
        "use_transaction": False,
    }
    if distance:
        options["distance"] = distance
    await run_migrate(MigrationSettings(**options))


async def ensure_migrated(settings: Settings, *, apply: bool = False) -> None:
    """Raise PendingMigrations if the database is behind, or apply them when asked (or by env)."""
    pending = await pending_migrations(settings)
    if not pending:
        return
    if not (apply or settings.env.auto_migrate):
        raise PendingMigrations(pending)
    log.info("applying %d pending migration(s): %s", len(pending), ", ".join(pending))
    await apply_migrations(settings)


def run_beanie_cli(url: str, database: str, *, backward: bool = False, distance: int = 0) -> None:
    """``beanie migrate -uri URI -db DB -p DIR --no-use-transaction``, through Beanie's own entry point."""
    _patch_runner()
    args = [
        "-uri",
        url,
        "-db",
        database,
        "-p",
        str(migrations_dir()),
        "--no-use-transaction",
    ]
    if backward:
        args.append("--backward")
    if distance:
        args += ["-d", str(distance)]
    beanie_migrate.main(args, prog_name="tidings migrate", standalone_mode=False)
