"""Bounces and complaints as the configuration file declares them: the ``bounces`` object.

::

    "bounces": {
      "domain": "bounces.example.org",
      "softBounces": {"limit": 3, "windowDays": 7},
      "ses": {"certificateHosts": ["sns.eu-west-1.amazonaws.com"], "topicArns": ["arn:aws:sns:..."]},
      "replayWindowSeconds": 300
    }

Every key is optional. ``domain`` (default: the domain of ``sender.email``) is the domain of the envelope
sender every e-mail carries (``bounces+<token>@<domain>``, host.access.bounce_addresses) and the one
the bounce listener accepts mail for. The secrets of the provider webhooks live in the environment
(``SENDGRID_WEBHOOK_PUBLIC_KEY``, ``MAILGUN_WEBHOOK_SIGNING_KEY``, host.settings.environment).
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

__all__ = ["BounceConfig", "SesConfig", "SoftBouncePolicy", "host_matches"]

_DOMAIN = r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$|^localhost$"
# a host pattern: DNS labels, where a label may be `*` (exactly one label), with an optional port
_LABEL = r"(\*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
_HOST_PATTERN = rf"^{_LABEL}(\.{_LABEL})*(:\d{{1,5}})?$"


class SoftBouncePolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Soft bounces (4.x.x) suppress an address once ``limit`` of them came within ``windowDays``."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 3
    window_days: Annotated[float, msgspec.Meta(gt=0, le=3650)] = 7.0


class SesConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Amazon SES notifications through SNS: whose signing certificates to trust, which topics to accept.

    A certificate URL must be ``https://<host>/...pem`` with a host matching one of ``certificateHosts``
    (``*`` stands for one DNS label); ``http`` is accepted for a loopback host only (a local fake).
    ``topicArns`` empty accepts every topic.
    """

    certificate_hosts: list[Annotated[str, msgspec.Meta(pattern=_HOST_PATTERN)]] = msgspec.field(
        default_factory=lambda: ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"]
    )
    topic_arns: list[str] = []


class BounceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Where bounces come back (VERP), when soft bounces suppress, and the provider webhooks' options."""

    #: the envelope sender's domain; None: the domain of ``sender.email``
    domain: Annotated[str, msgspec.Meta(pattern=_DOMAIN)] | None = None
    #: the local part before ``+<token>`` (RFC 5321 caps the whole local part at 64 octets)
    local_part: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,15}$")] = "bounces"
    soft_bounces: SoftBouncePolicy = SoftBouncePolicy()
    #: the largest message the bounce listener takes (SMTP SIZE); a DSN returning a big mail is cut off
    max_message_bytes: Annotated[int, msgspec.Meta(ge=10_000, le=15_000_000)] = 10_000_000
    #: Amazon SES via SNS (``POST /feedback/ses``); None: not accepted
    ses: SesConfig | None = None
    #: SendGrid's and Mailgun's signatures carry a time: older ones are refused (replays)
    replay_window_seconds: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 300.0

    def domain_for(self, email_sender: str | None) -> str | None:
        """The bounce domain: the configured one, else that of the configured e-mail sender."""
        if self.domain:
            return self.domain.lower()
        if not email_sender:
            return None
        match = re.search(r"@([A-Za-z0-9.-]+)>?\s*$", email_sender)
        return match.group(1).lower() if match else None


def host_matches(pattern: str, host: str) -> bool:
    """Whether ``host`` (``name`` or ``name:port``) matches a ``certificateHosts`` pattern."""
    wanted = pattern.lower().split(".")
    given = host.lower().split(".")
    if len(wanted) != len(given):
        return False
    return all(
        w == g or (w == "*" and re.fullmatch(r"[a-z0-9-]+", g)) for w, g in zip(wanted, given, strict=True)
    )
