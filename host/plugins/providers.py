"""A channel's providers and circuit settings: ``channels.<name>.providers`` and ``channels.<name>.circuit``.

A channel may be configured with several providers, in the order they are tried; each one is an instance
of the channel class, or of a provider type registered for the channel (``tidings.providers`` entry
points, such as ``voice.kaleyra``), built from its own environment-variable prefix::

    "channels": {"voice": {
        "providers": [{"name": "twilio", "env": "TWILIO_"}, {"name": "kaleyra", "type": "kaleyra"}],
        "circuit": {"failures": 5, "coolDownSeconds": 30}
    }}

The host reads both keys and never hands them to the channel. Anything wrong stops start-up naming the
entry (``channels.voice.providers[1]``): an entry that is not ``{"name", "type", "env"}``, an unknown type,
a repeated name or prefix, a prefix under which no variable of the provider is set (a typo), or settings
the provider refuses. Without ``type`` an entry is the channel's own class; without ``env``, the prefix of
its type. Without ``circuit`` (and ``providers``) the channel has no circuit.

Without ``providers`` the channel has one provider: its own class, unless none of that class's variables
is set while exactly one provider type registered for the channel has some of its own set: then that
type. So a deployment that sets only ``KALEYRA_API_KEY`` and ``KALEYRA_SID`` (as Mia's does) places its
calls through Kaleyra with no ``providers`` list.
"""

from __future__ import annotations

import logging
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
    "config_variables",
    "unconfigured_variable",
]

log = logging.getLogger(__name__)

PROVIDERS_OPTION = "providers"
CIRCUIT_OPTION = "circuit"
#: keys of ``channels.<name>`` read by the failover machinery, never passed to the channel
FAILOVER_OPTIONS = frozenset({PROVIDERS_OPTION, CIRCUIT_OPTION})

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PREFIX = re.compile(r"[A-Z][A-Z0-9_]*_")

#: builds one provider: its class and its environment-variable prefix
MakeProvider = Callable[[type[Channel], str], Channel]


class ProviderEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of ``channels.<name>.providers``."""

    #: how deliveries name the provider that sent them (``"backup (smtp://host:port)"``)
    name: str
    #: the provider type registered for the channel (``kaleyra``); default: the channel's own class
    type: str | None = None
    #: the environment-variable prefix of this provider's settings (default: its type's own)
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


def config_variables(channel_type: type[Channel], prefix: str) -> dict[str, tuple[str, ...]]:
    """The environment variables each field of the channel's settings is read from, first set wins.

    A field is ``<prefix><FIELD_NAME_UPPER>``, unless the config type's ``env_variables`` class attribute
    names its variables itself (absolute names, whatever the prefix: e.g. the push channel's FCM account,
    ``FCM_SERVICE_ACCOUNT_FILE`` or Mia's ``GOOGLE_APPLICATION_CREDENTIALS``).
    """
    explicit: Mapping[str, tuple[str, ...]] = getattr(channel_type.config_type, "env_variables", {})
    return {
        field.name: tuple(explicit.get(field.name, (prefix + field.name.upper(),)))
        for field in msgspec.structs.fields(channel_type.config_type)
    }


def _prefixed_variables(channel_type: type[Channel], prefix: str) -> list[str]:
    explicit: Mapping[str, tuple[str, ...]] = getattr(channel_type.config_type, "env_variables", {})
    return [
        prefix + field.name.upper()
        for field in msgspec.structs.fields(channel_type.config_type)
        if field.name not in explicit
    ]


def _any_set(channel_type: type[Channel], environ: Mapping[str, str]) -> bool:
    variables = config_variables(channel_type, channel_type.env_prefix)
    return any(environ.get(name) for names in variables.values() for name in names)


def unconfigured_variable(
    config: ServiceConfig,
    name: str,
    channel_type: type[Channel],
    environ: Mapping[str, str],
    types: Mapping[str, type[Channel]] | None = None,
) -> str | None:
    """The variable to set when the channel has no provider configured at all, else None.

    No provider configured: no ``channels.<name>.providers`` list and not one variable of the channel's
    class or of a provider type registered for it is set. The variable named is the first of the
    channel's own settings (``SMTP_HOST``, ``TWILIO_ACCOUNT_SID``, ``VAPID_PRIVATE_KEY``). ``tidings
    run`` captures such a channel's messages in its inbox; ``tidings api`` and ``tidings worker`` stop.
    """
    if PROVIDERS_OPTION in _options(config, name):
        return None
    if any(_any_set(t, environ) for t in (channel_type, *(types or {}).values())):
        return None
    variables = list(config_variables(channel_type, channel_type.env_prefix).values())
    return variables[0][0] if variables else None


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


def _provider_type(
    entry: ProviderEntry, key: str, channel_type: type[Channel], types: Mapping[str, type[Channel]]
) -> type[Channel]:
    if entry.type is None:
        return channel_type
    found = types.get(entry.type)
    if found is None:
        known = ", ".join(sorted(types)) or "none"
        raise ConfigurationError(
            key,
            f"unknown provider type {entry.type!r} for the {channel_type.name} channel (registered: {known})",
        )
    return found


def _entry(
    raw: object,
    key: str,
    channel_type: type[Channel],
    types: Mapping[str, type[Channel]],
    environ: Mapping[str, str],
) -> tuple[ProviderEntry, type[Channel]]:
    try:
        entry = msgspec.convert(raw, ProviderEntry)
    except msgspec.ValidationError as exc:
        raise ConfigurationError(key, f'must be {{"name": ..., "type": ..., "env": ...}}: {exc}') from exc
    if not _NAME.fullmatch(entry.name):
        raise ConfigurationError(key, f"name {entry.name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    provider_type = _provider_type(entry, key, channel_type, types)
    prefix = entry.env if entry.env is not None else provider_type.env_prefix
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            key, f"env {prefix!r} must be upper-case letters, digits and '_', ending in '_'"
        )
    variables = _prefixed_variables(provider_type, prefix)
    reader = f"{channel_type.name}.{entry.type} provider" if entry.type else f"{channel_type.name} channel"
    if prefix != provider_type.env_prefix and variables and not any(environ.get(v) for v in variables):
        raise ConfigurationError(
            key,
            f"no environment variable {prefix}* is set (the {reader} reads " + ", ".join(variables) + ")",
        )
    return msgspec.structs.replace(entry, env=prefix), provider_type


def _implicit_type(
    name: str, channel_type: type[Channel], types: Mapping[str, type[Channel]], environ: Mapping[str, str]
) -> type[Channel]:
    """The channel's own class, or the one provider type whose variables alone are set (module doc)."""
    if _any_set(channel_type, environ):
        return channel_type
    configured = {kind: t for kind, t in types.items() if t is not channel_type and _any_set(t, environ)}
    if len(configured) != 1:
        return channel_type
    [(kind, provider_type)] = configured.items()
    log.info(
        "%s channel: no %s* variable is set and %s* variables are: it sends through %s "
        "(set channels.%s.providers to choose otherwise)",
        name,
        channel_type.env_prefix,
        provider_type.env_prefix,
        kind,
        name,
    )
    return provider_type


def build_providers(
    config: ServiceConfig,
    name: str,
    channel_type: type[Channel],
    environ: Mapping[str, str],
    make: MakeProvider,
    types: Mapping[str, type[Channel]] | None = None,
) -> tuple[ProviderSlot, ...]:
    """Build the channel's providers in order with ``make(type, env_prefix)``; the first one is the primary.

    ``types`` are the provider types registered for this channel (``{"kaleyra": KaleyraVoice}``).
    """
    types = types or {}
    options = _options(config, name)
    if PROVIDERS_OPTION not in options:
        implicit = _implicit_type(name, channel_type, types, environ)
        return (ProviderSlot(None, make(implicit, implicit.env_prefix)),)
    raw = options[PROVIDERS_OPTION]
    key = f"channels.{name}.{PROVIDERS_OPTION}"
    if not isinstance(raw, list) or not raw:
        raise ConfigurationError(key, "must be a non-empty list of providers")
    slots: list[ProviderSlot] = []
    prefixes: set[str] = set()
    for index, item in enumerate(raw):
        where = f"{key}[{index}]"
        entry, provider_type = _entry(item, where, channel_type, types, environ)
        assert entry.env is not None
        if any(slot.name == entry.name for slot in slots):
            raise ConfigurationError(where, f"a provider named {entry.name!r} is listed twice")
        if entry.env in prefixes:
            raise ConfigurationError(where, f"env {entry.env!r} is used by another provider")
        prefixes.add(entry.env)
        try:
            slots.append(ProviderSlot(entry.name, make(provider_type, entry.env)))
        except ConfigurationError as exc:
            raise ConfigurationError(where, f"{exc.key}: {exc.reason}") from exc
    return tuple(slots)
