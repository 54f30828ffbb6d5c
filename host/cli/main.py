"""The ``tidings`` command: run (embedded), api, worker, bounces."""

from __future__ import annotations

import sys
from typing import Any

import click

from host import __version__
from host.cli.apikey import apikey
from host.cli.bounces import bounces
from host.cli.templates import templates
from host.cli.users import users
from host.errors import ConfigurationError, TidingsError
from host.plugins.app import EmbeddedContext, discover_app_plugins

__all__ = ["main"]

_AUTO_MIGRATE = "TIDINGS_AUTO_MIGRATE"
#: how long a `tidings api --workers N` process may take to answer uvicorn's supervisor (starting included)
WORKER_HEALTHCHECK_SECONDS = 60

BANNER = """\
Tidings {version}: embedded mode
  API and home page   http://{host}:{port}/
  console             http://{host}:{port}/console
  database            development database (mongo-java-server) at {db}, data in {data}
                      for trying Tidings out and for tests only; production uses MongoDB
  broker              in-process (no Redis); workers run in this process
  channels            {channels}
  inbox               {inbox}
  bounces             SMTP {bounces}
  API                 {auth}
Press Ctrl-C to stop."""
_INDENT = "\n" + " " * 22


def _check_configuration(*, needs_redis: bool, migrate: bool = False) -> None:
    """Decode the configuration and build the channels now, so a wrong key stops start-up here."""
    from host.access.unsubscribe_links import require_secret_key
    from host.plugins.registry import ChannelRegistry
    from host.settings import load_settings

    settings = load_settings()
    registry = ChannelRegistry.build(settings.config, settings.environ)
    if registry.unconfigured:  # only `tidings run` captures messages: here they could never be sent
        name, variable = next(iter(registry.unconfigured.items()))
        raise ConfigurationError(
            variable, f"required because {name!r} is an active channel (no provider is configured for it)"
        )
    _check_saga_scripts(settings)
    if not settings.env.mongodb_url:
        raise ConfigurationError("MONGODB_URL", "environment variable is not set")
    if needs_redis and not settings.env.redis_url:
        raise ConfigurationError(
            "REDIS_URL", "environment variable is not set (the embedded mode is `tidings run`)"
        )
    _check_migrations(settings, apply=migrate)
    require_secret_key(settings)  # it signs the unsubscribe links of e-mails
    check_feedback_keys(settings)


def check_feedback_keys(settings: Any) -> None:
    """A provider webhook's key that cannot be used stops start-up, naming the variable."""
    from host.feedback.sendgrid import load_public_key

    if settings.env.sendgrid_webhook_public_key:
        load_public_key(settings.env.sendgrid_webhook_public_key)


def _check_saga_scripts(settings: Any) -> None:
    """Compile Mia's saga scripts (a syntax error names the file); say which Mia variables are unused."""
    import logging

    from host.dispatch.saga import SagaReader
    from host.settings import mia_leftovers

    SagaReader(settings.saga).close()
    for line in mia_leftovers(settings.environ):
        logging.getLogger("host.settings").warning("%s", line)


def _check_migrations(settings: Any, *, apply: bool) -> None:
    """Refuse to start on a database with pending migrations, unless told to apply them."""
    import asyncio

    from host.storage.migrations import ensure_migrated

    asyncio.run(ensure_migrated(settings, apply=apply))


@click.group()
@click.version_option(__version__, prog_name="tidings")
def cli() -> None:
    """Tidings: one API call, every channel."""


@cli.command()
@click.option("--port", default=8000, show_default=True, help="HTTP port on 127.0.0.1")
@click.option(
    "--bounce-port",
    default=2525,
    show_default=True,
    help="the bounce listener's SMTP port on 127.0.0.1 (0: off)",
)
def run(port: int, bounce_port: int) -> None:
    """Run everything in one process on embedded defaults (no external service needed)."""
    import uvicorn

    from host.api.app import create_app, settle_collector_after_startup
    from host.api.auth import describe_api_auth
    from host.runtime.embedded import check_channels, describe_channels, embedded_services
    from host.runtime.logs import configure_logging

    configure_logging()
    with embedded_services(bounce_port=bounce_port or None) as (settings, actors, database):
        _check_saga_scripts(settings)
        _check_migrations(settings, apply=True)  # the embedded mode keeps its own database current
        check_feedback_keys(settings)
        registry = check_channels(settings)
        base = f"http://127.0.0.1:{port}"
        inbox = (
            f"{', '.join(registry.captured)} captured: {base}/console/inbox, or GET {base}/dev/inbox"
            if registry.captured
            else f"empty: every channel has a provider ({base}/dev/inbox)"
        )
        listener = actors.worker_runtime().bounce_listener
        where = f"127.0.0.1:{listener.port}, mail to @{listener.domain}" if listener else "off"
        click.echo(
            BANNER.format(
                version=__version__,
                host="127.0.0.1",
                port=port,
                db=database.url,
                data=settings.env.data_path(),
                channels=_INDENT.join(describe_channels(registry, settings)),
                inbox=inbox,
                bounces=where,
                auth=describe_api_auth(settings.env.api_auth),
            )
        )
        plugins = discover_app_plugins()
        started = EmbeddedContext(
            settings=settings,
            mongodb_url=database.url,
            database=settings.env.mongodb_database,
            base_url=f"http://127.0.0.1:{port}",
        )
        for plugin in plugins:  # the console creates its first account here
            plugin.on_embedded_start(started)
        # log_config=None: uvicorn's loggers write through ours (configure_logging), not a setup of its own
        app = create_app(actors, app_plugins=plugins)
        settle_collector_after_startup(app)
        uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="server processes")
@click.option("--migrate", is_flag=True, help=f"apply pending migrations first (or {_AUTO_MIGRATE}=1)")
def api(host: str, port: int, workers: int, migrate: bool) -> None:
    """Serve the HTTP API against MONGODB_URL and REDIS_URL."""
    import uvicorn

    from host.runtime.logs import configure_logging

    configure_logging()
    _check_configuration(needs_redis=True, migrate=migrate)
    # log_config=None and no log_level: uvicorn's loggers go through ours at TIDINGS_LOG_LEVEL; each of
    # several worker processes configures logging again when it imports host.api.server. A worker must
    # answer the supervisor's ping within timeout_worker_healthcheck (5 s by default) or is killed and
    # started again: on a loaded machine importing the app took longer, and workers restarted forever.
    uvicorn.run(
        "host.api.server:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        log_level=None,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--processes", default=2, show_default=True)
@click.option("--threads", default=8, show_default=True)
@click.option("--migrate", is_flag=True, help=f"apply pending migrations first (or {_AUTO_MIGRATE}=1)")
def worker(processes: int, threads: int, migrate: bool) -> None:
    """Run dramatiq worker processes against MONGODB_URL and REDIS_URL."""
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from host.runtime.logs import configure_logging

    configure_logging()
    _check_configuration(needs_redis=True, migrate=migrate)
    # --skip-logging: dramatiq's own basicConfig (its format, level INFO) would come first in every
    # process and make ours a no-op; the worker processes configure ours (host.runtime.worker_app)
    args = make_argument_parser().parse_args(  # type: ignore[no-untyped-call]
        [
            "host.runtime.worker_app",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--skip-logging",
        ]
    )
    sys.exit(dramatiq_main(args))  # type: ignore[no-untyped-call]


@cli.command()
@click.option("--backward", is_flag=True, help="roll back instead of forward")
@click.option("-d", "--distance", default=0, show_default=True, help="how many steps (0: all)")
def migrate(backward: bool, distance: int) -> None:
    """Apply the database migrations (Beanie's runner, without sessions) to MONGODB_URL."""
    from host.runtime.logs import configure_logging
    from host.settings import load_environment
    from host.storage.migrations import run_beanie_cli

    env = load_environment()
    configure_logging(env)
    if not env.mongodb_url:
        raise ConfigurationError("MONGODB_URL", "environment variable is not set")
    run_beanie_cli(env.mongodb_url, env.mongodb_database, backward=backward, distance=distance)


cli.add_command(users)
cli.add_command(templates)
cli.add_command(apikey)
cli.add_command(bounces)
for _plugin in discover_app_plugins():  # app plugins' commands: `tidings staff` is the console's
    for _command in _plugin.commands():
        cli.add_command(_command)


def main() -> None:
    """Entry point of the console script: configuration errors end with the key named, exit code 2."""
    try:
        cli()
    except ConfigurationError as exc:
        click.echo(f"tidings: {exc}", err=True)
        sys.exit(2)
    except TidingsError as exc:
        click.echo(f"tidings: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
