"""``tidings templates import-mia``: copy Mia's templates collection into Tidings' own, keeping the ids."""

from __future__ import annotations

import asyncio
from collections import Counter

import click

__all__ = ["templates"]


async def _import(collection: str | None) -> Counter[str]:
    from host.settings import load_settings
    from host.storage.store import Store
    from host.templates.mia_import import import_mia_templates
    from host.templates.rendering import Renderer

    settings = load_settings()
    name = collection or settings.env.mia_templates_collection
    if not name:
        raise click.UsageError("name the collection: --collection message_templates (or TEMPLATES_CRUD_NAME)")
    renderer = Renderer(
        default_locale=settings.config.default_locale, default_timezone=settings.config.default_timezone
    )
    store = Store.connect(settings)
    outcomes: Counter[str] = Counter()
    try:
        async for report in import_mia_templates(store, renderer, store.db[name]):
            outcomes[report.outcome] += 1
            click.echo(f"{report.id}  {report.outcome:<9}  {report.name}")
            for problem in report.problems:
                click.echo(f"    {problem}")
    finally:
        await store.close()
    return outcomes


@click.group()
def templates() -> None:
    """Manage message templates."""


@templates.command("import-mia")
@click.option(
    "--collection",
    help="Mia's templates collection (default: TEMPLATES_CRUD_NAME), in the database of MONGODB_URL",
)
def import_mia(collection: str | None) -> None:
    """Import Mia's templates into Tidings' own, keeping every _id; running it again changes nothing."""
    outcomes = asyncio.run(_import(collection))
    summary = ", ".join(f"{outcomes[key]} {key}" for key in ("imported", "updated", "unchanged", "skipped"))
    click.echo(summary)
