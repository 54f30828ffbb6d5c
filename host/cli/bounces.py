"""``tidings bounces``: the bounce listener, an SMTP server for the bounce domain (host.feedback.listener).

Point the bounce domain's MX at it (or a relay's bounces, or a feedback loop's reports): it stores every
DSN and ARF report it receives, maps it to its delivery and records the bounce or complaint. It needs
``MONGODB_URL`` and ``TIDINGS_SECRET_KEY`` (the VERP tokens are signed with it); no broker.
"""

from __future__ import annotations

import asyncio

import click

from host.errors import ConfigurationError

__all__ = ["bounces"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: all)")
@click.option("--port", default=2525, show_default=True, help="SMTP port (25 for an MX)")
def bounces(host: str, port: int) -> None:
    """Receive bounces and abuse reports over SMTP and record them."""
    from host.access.bounce_addresses import BounceAddresses, require_bounce_domain
    from host.runtime.bounce_service import serve_bounces
    from host.runtime.logs import configure_logging
    from host.settings import load_settings

    settings = load_settings()
    configure_logging(settings.env)
    if not settings.env.mongodb_url:
        raise ConfigurationError("MONGODB_URL", "environment variable is not set")
    require_bounce_domain(settings)
    addresses = BounceAddresses.from_settings(settings)
    domain = addresses.domain if addresses else "?"

    def ready(where: str) -> None:
        click.echo(f"tidings bounces: listening on {where} for mail to @{domain} (Ctrl-C to stop)")

    asyncio.run(serve_bounces(settings, host, port, ready))
