"""A channel's rate: its declared ``Limits.rate_per_second``, or ``channels.<name>.ratePerSecond``.

The host reads that key of the configuration file and never hands it to the channel; a wrong value
stops start-up naming it. host.delivery.rate_limits enforces the rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.errors import ConfigurationError
from host.plugins.channel import Channel
from host.settings import ServiceConfig

__all__ = ["HOST_CHANNEL_OPTIONS", "RATE_OPTION", "configured_rate"]

RATE_OPTION = "ratePerSecond"
#: keys of ``channels.<name>`` read by the host, never passed to the channel
HOST_CHANNEL_OPTIONS = frozenset({RATE_OPTION})


def configured_rate(config: ServiceConfig, name: str, channel_type: type[Channel] | Channel) -> float | None:
    """The rate for this channel: the file's ``channels.<name>.ratePerSecond``, else the declared one."""
    options: Mapping[str, Any] = config.channels.get(name, {})
    if RATE_OPTION not in options:
        return channel_type.limits.rate_per_second
    value = options[RATE_OPTION]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"channels.{name}.{RATE_OPTION}", "must be a positive number or null")
    return float(value)
