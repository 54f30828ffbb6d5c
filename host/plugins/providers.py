"""A channel's providers and circuit settings: ``channels.<name>.providers`` and ``channels.<name>.circuit``.

A channel may be configured with several providers, in the order they are tried; each one is an instance
of the same channel class, built from its own environment-variable prefix::

    "channels": {"email": {
        "providers": [{"name": "primary", "env": "SMTP_"}, {"name": "backup", "env": "SMTP_BACKUP_"}],
        "circuit": {"failures": 5, "coolDownSeconds": 30}
    }}

The host reads both keys and never hands them to the channel. Anything wrong stops start-up naming the
entry (``channels.email.providers[1]``): an entry that is not ``{"name", "env"}``, a repeated name or
prefix, a prefix under which no variable of the channel is set (a typo), or settings the channel refuses.
Without ``providers`` the channel has one provider, its own prefix; without either key it has no circuit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NamedTuple

import msgspec

from host.errors import ConfigurationError, validation_problem
from host.plugins.channel import Channel
from host.settings import ServiceConfig

__all__ = [
    "CIRCUIT_OPTION",
    "FAILOVER_OPTIONS",
    "PROVIDERS_OPTION",
    "CircuitPolicy",
    "ProviderEntry",
    "ProviderSlot",
    "build_providers",
    "circuit_policy",
]

PROVIDERS_OPTION = "providers"
CIRCUIT_OPTION = "circuit"
#: keys of ``channels.<name>`` read by the failover machinery, never passed to the channel
FAILOVER_OPTIONS = frozenset({PROVIDERS_OPTION, CIRCUIT_OPTION})

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PREFIX = re.compile(r"[A-Z][A-Z0-9_]*_")


class ProviderEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of ``channels.<name>.providers``."""

    #: how deliveries name the provider that sent them (``"backup (smtp://host:port)"``)
    name: str
    #: the environment-variable prefix of this provider's settings (default: the channel's own)
    env: str | None = None


class CircuitPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``channels.<name>.circuit``: when a provider is skipped, and for how long."""

    #: consecutive transient failures that open the circuit
    failures: Annotated[int, msgspec.Meta(ge=1)] = 5
    #: how long an open circuit skips the provider before one trial message is let through
    cool_down_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0


class ProviderSlot(NamedTuple):
    """One built provider of a channel; ``name`` is None when no ``providers`` list is configured."""

    name: str | None
    channel: Channel


def _options(config: ServiceConfig, name: str) -> Mapping[str, Any]:
    return config.channels.get(name, {})


def circuit_policy(config: ServiceConfig, name: str) -> CircuitPolicy | None:
    """The channel's circuit settings; defaults when it has providers, None when it has neither key."""
    options = _options(config, name)
    if CIRCUIT_OPTION not in options:
        return CircuitPolicy() if PROVIDERS_OPTION in options else None
    key = f"channels.{name}.{CIRCUIT_OPTION}"
    try:
        return msgspec.convert(options[CIRCUIT_OPTION], CircuitPolicy)
    except msgspec.ValidationError as exc:
        path, problem = validation_problem(exc)
        where = f"{key}.{path}" if path and not path.startswith("[") else key + path
        raise ConfigurationError(where, problem) from exc


def _entry(raw: object, key: str, channel_type: type[Channel], environ: Mapping[str, str]) -> ProviderEntry:
    try:
        entry = msgspec.convert(raw, ProviderEntry)
    except msgspec.ValidationError as exc:
        raise ConfigurationError(key, f'must be {{"name": ..., "env": ...}}: {exc}') from exc
    if not _NAME.fullmatch(entry.name):
        raise ConfigurationError(key, f"name {entry.name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    prefix = entry.env if entry.env is not None else channel_type.env_prefix
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            key, f"env {prefix!r} must be upper-case letters, digits and '_', ending in '_'"
        )
    fields = [field.name.upper() for field in msgspec.structs.fields(channel_type.config_type)]
    if prefix != channel_type.env_prefix and fields and not any(environ.get(prefix + f) for f in fields):
        raise ConfigurationError(
            key,
            f"no environment variable {prefix}* is set (the {channel_type.name} channel reads "
            + ", ".join(prefix + f for f in fields)
            + ")",
        )
    return ProviderEntry(name=entry.name, env=prefix)


def build_providers(
    config: ServiceConfig,
    name: str,
    channel_type: type[Channel],
    environ: Mapping[str, str],
    make: Callable[[str], Channel],
) -> tuple[ProviderSlot, ...]:
    """Build the channel's providers in order with ``make(env_prefix)``; the first one is the primary."""
    options = _options(config, name)
    if PROVIDERS_OPTION not in options:
        return (ProviderSlot(None, make(channel_type.env_prefix)),)
    raw = options[PROVIDERS_OPTION]
    key = f"channels.{name}.{PROVIDERS_OPTION}"
    if not isinstance(raw, list) or not raw:
        raise ConfigurationError(key, "must be a non-empty list of providers")
    slots: list[ProviderSlot] = []
    prefixes: set[str] = set()
    for index, item in enumerate(raw):
        where = f"{key}[{index}]"
        entry = _entry(item, where, channel_type, environ)
        assert entry.env is not None
        if any(slot.name == entry.name for slot in slots):
            raise ConfigurationError(where, f"a provider named {entry.name!r} is listed twice")
        if entry.env in prefixes:
            raise ConfigurationError(where, f"env {entry.env!r} is used by another provider")
        prefixes.add(entry.env)
        try:
            slots.append(ProviderSlot(entry.name, make(entry.env)))
        except ConfigurationError as exc:
            raise ConfigurationError(where, f"{exc.key}: {exc.reason}") from exc
    return tuple(slots)
