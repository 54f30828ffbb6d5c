"""The channel registry: channels are plugins found through the ``tidings.channels`` entry-point group.

Built-in channels are registered exactly like third-party ones. A malformed plugin is refused at
registration with a PluginError naming what it lacks, so mistakes fail at start-up, not at 3 a.m.

Providers are plugins too: the ``tidings.providers`` group registers other implementations of a channel
as ``<channel>.<type>`` (``voice.kaleyra = channels.kaleyra:KaleyraVoice``). A provider type is a class
keeping the Channel protocol under the channel's name and address field; ``channels.<name>.providers``
entries pick one with ``"type"`` (host.plugins.providers).

Inbox providers, the ``tidings.inbox`` group (``email = channels.inbox:EmailInbox``), capture a channel's
messages instead of sending them (host.plugins.capture). Only a registry built with a capture sink
(the embedded mode's) uses them, for the active channels with no provider configured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import msgspec

from host.errors import ConfigurationError, PluginError
from host.plugins.capture import CaptureSink, InboxConfig
from host.plugins.channel import Channel, ChannelContext, Limits, Message
from host.plugins.providers import (
    FAILOVER_OPTIONS,
    ProviderSlot,
    build_providers,
    circuit_policy,
    config_variables,
    unconfigured_variable,
)
from host.plugins.rates import HOST_CHANNEL_OPTIONS, configured_rate
from host.settings import ServiceConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "INBOX_ENTRY_POINT_GROUP",
    "PROVIDER_ENTRY_POINT_GROUP",
    "ChannelRegistry",
    "discover_channel_types",
    "discover_inbox_types",
    "discover_provider_types",
]

ENTRY_POINT_GROUP = "tidings.channels"
PROVIDER_ENTRY_POINT_GROUP = "tidings.providers"
INBOX_ENTRY_POINT_GROUP = "tidings.inbox"

#: provider types by channel name, then by type name: ``{"voice": {"kaleyra": KaleyraVoice}}``
ProviderTypes = Mapping[str, Mapping[str, type[Channel]]]

_REQUIRED_ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "address_field": str,
    "env_prefix": str,
    "template_fields": Mapping,
    "required": tuple,
    "html_fields": tuple,
    "needs_sender": bool,
    "limits": Limits,
}
_REQUIRED_METHODS = ("parse_address", "startup", "open", "shutdown")


def _check_plugin(
    entry_point_name: str, plugin: Any, channel_name: str | None = None, group: str = "channel"
) -> type[Channel]:
    """Check a class against the Channel protocol; ``channel_name`` is the name it must declare."""
    where = f"{group} plugin {entry_point_name!r} ({getattr(plugin, '__module__', '?')})"
    channel_name = entry_point_name if channel_name is None else channel_name
    if not isinstance(plugin, type):
        raise PluginError(f"{where}: must be a class, got {type(plugin).__name__}")
    for attribute, kind in _REQUIRED_ATTRIBUTES.items():
        value = getattr(plugin, attribute, None)
        if not isinstance(value, kind):
            raise PluginError(f"{where}: class attribute {attribute!r} is missing or not a {kind}")
    config_type = getattr(plugin, "config_type", None)
    if not (isinstance(config_type, type) and issubclass(config_type, msgspec.Struct)):
        raise PluginError(f"{where}: 'config_type' must be a msgspec.Struct subclass")
    for method in _REQUIRED_METHODS:
        if not callable(getattr(plugin, method, None)):
            raise PluginError(f"{where}: method {method!r} is missing")
    declared = getattr(plugin, "name")  # noqa: B009 (plugin is a plain type here)
    if declared != channel_name:
        raise PluginError(f"{where}: declares name {declared!r} but is registered as {channel_name!r}")
    attributes = {field.name for field in msgspec.structs.fields(Message)}
    for attr in getattr(plugin, "template_fields"):  # noqa: B009
        if attr not in attributes:
            raise PluginError(f"{where}: template_fields maps unknown Message attribute {attr!r}")
    checked: type[Channel] = plugin
    return checked


def discover_channel_types(points: Iterable[EntryPoint] | None = None) -> dict[str, type[Channel]]:
    """Load and check every channel class registered under the entry-point group."""
    found: dict[str, type[Channel]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP) if points is None else points:
        if point.name in found:
            raise PluginError(f"two channel plugins are registered as {point.name!r}")
        try:
            plugin = point.load()
        except Exception as exc:
            raise PluginError(f"channel plugin {point.name!r} failed to import: {exc}") from exc
        found[point.name] = _check_plugin(point.name, plugin)
    return found


def discover_provider_types(
    channel_types: Mapping[str, type[Channel]], points: Iterable[EntryPoint] | None = None
) -> dict[str, dict[str, type[Channel]]]:
    """Load and check every provider type registered as ``<channel>.<type>`` under ``tidings.providers``.

    A provider of a registered channel must read its addresses from the same user field.
    """
    found: dict[str, dict[str, type[Channel]]] = {}
    for point in entry_points(group=PROVIDER_ENTRY_POINT_GROUP) if points is None else points:
        channel, dot, kind = point.name.partition(".")
        if not dot or not channel or not kind or "." in kind:
            raise PluginError(f"provider plugin {point.name!r} must be registered as '<channel>.<type>'")
        if kind in found.get(channel, {}):
            raise PluginError(f"two provider plugins are registered as {point.name!r}")
        try:
            plugin = point.load()
        except Exception as exc:
            raise PluginError(f"provider plugin {point.name!r} failed to import: {exc}") from exc
        checked = _check_plugin(point.name, plugin, channel, group="provider")
        own = channel_types.get(channel)
        if own is not None and checked.address_field != own.address_field:
            raise PluginError(
                f"provider plugin {point.name!r}: reads addresses from {checked.address_field!r}, "
                f"the {channel} channel from {own.address_field!r}"
            )
        found.setdefault(channel, {})[kind] = checked
    return found


def discover_inbox_types(
    channel_types: Mapping[str, type[Channel]], points: Iterable[EntryPoint] | None = None
) -> dict[str, type[Channel]]:
    """Load and check every inbox provider, registered under its channel's name in ``tidings.inbox``."""
    found: dict[str, type[Channel]] = {}
    for point in entry_points(group=INBOX_ENTRY_POINT_GROUP) if points is None else points:
        try:
            plugin = point.load()
        except Exception as exc:
            raise PluginError(f"inbox plugin {point.name!r} failed to import: {exc}") from exc
        checked = _check_plugin(point.name, plugin, group="inbox")
        own = channel_types.get(point.name)
        if own is not None and checked.address_field != own.address_field:
            raise PluginError(
                f"inbox plugin {point.name!r}: reads addresses from {checked.address_field!r}, "
                f"the {point.name} channel from {own.address_field!r}"
            )
        found[point.name] = checked
    return found


def _channel_config(
    channel_type: type[Channel], environ: Mapping[str, str], prefix: str | None = None
) -> Any:
    prefix = channel_type.env_prefix if prefix is None else prefix
    values: dict[str, str] = {}
    read_from: dict[str, str] = {}
    for field, variables in config_variables(channel_type, prefix).items():
        for variable in variables:
            if environ.get(variable):
                values[field] = environ[variable]
                read_from[field] = variable
                break
    try:
        return msgspec.convert(values, channel_type.config_type, strict=False)
    except msgspec.ValidationError as exc:
        # a field with its own variable name is named by it; the others by their prefix
        match = re.search(r"at `\$\.(?P<field>\w+)", str(exc))
        variable = read_from.get(match.group("field"), "") if match else ""
        key = variable if variable and not variable.startswith(prefix) else f"{prefix}*"
        raise ConfigurationError(key, f"{channel_type.name} channel: {exc}") from exc


def _instance(
    environ: Mapping[str, str], context: ChannelContext, channel_type: type[Channel], prefix: str
) -> Channel:
    return channel_type(_channel_config(channel_type, environ, prefix), context)


class ChannelRegistry:
    """The active channels, built from their plugins, the configuration file and the environment."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        providers: Mapping[str, tuple[ProviderSlot, ...]] | None = None,
        captured: Mapping[str, str] | None = None,
        unconfigured: Mapping[str, str] | None = None,
    ) -> None:
        self._channels = dict(channels)  # the primary provider's instance, for addresses and limits
        #: channels with no provider configured, and the variable to set: ``{"email": "SMTP_HOST"}``;
        #: ``captured`` ones go to the inbox (tidings run), the others have no way to send
        self.captured: dict[str, str] = dict(captured or {})
        self.unconfigured: dict[str, str] = dict(unconfigured or {})
        self._providers: dict[str, tuple[ProviderSlot, ...]] = {
            name: (ProviderSlot(None, channel),) for name, channel in self._channels.items()
        }
        self._providers.update(providers or {})

    @classmethod
    def build(
        cls,
        config: ServiceConfig,
        environ: Mapping[str, str],
        types: Mapping[str, type[Channel]] | None = None,
        provider_types: ProviderTypes | None = None,
        *,
        inbox: CaptureSink | None = None,
        inbox_types: Mapping[str, type[Channel]] | None = None,
    ) -> ChannelRegistry:
        """Instantiate every active channel; unknown channels or missing senders name the key.

        With ``inbox`` (the embedded mode's), a channel with no provider configured and an inbox
        provider registered is built as that inbox provider (host.plugins.capture).
        """
        types = discover_channel_types() if types is None else types
        provider_types = discover_provider_types(types) if provider_types is None else provider_types
        if inbox is not None and inbox_types is None:
            inbox_types = discover_inbox_types(types)
        channels: dict[str, Channel] = {}
        providers: dict[str, tuple[ProviderSlot, ...]] = {}
        captured: dict[str, str] = {}
        unconfigured: dict[str, str] = {}
        for index, name in enumerate(config.active_channels):
            channel_type = types.get(name)
            if channel_type is None:
                known = ", ".join(sorted(types)) or "none"
                raise ConfigurationError(
                    f"activeChannels[{index}]", f"unknown channel {name!r} (registered: {known})"
                )
            sender = config.sender.get(name)
            if channel_type.needs_sender and not sender:
                raise ConfigurationError(f"sender.{name}", f"required because {name!r} is an active channel")
            context = ChannelContext(
                sender=sender,
                options={
                    key: value
                    for key, value in config.channels.get(name, {}).items()
                    if key not in HOST_CHANNEL_OPTIONS and key not in FAILOVER_OPTIONS
                },
                android_intent_action=config.android_intent_action,
            )
            configured_rate(config, name, channel_type)  # a wrong ratePerSecond stops start-up here
            circuit_policy(config, name)  # so does a wrong circuit, or a wrong provider entry below
            own_types = provider_types.get(name, {})
            variable = unconfigured_variable(config, name, channel_type, environ, own_types)
            inbox_type = (inbox_types or {}).get(name) if inbox is not None else None
            if variable and inbox_type is not None:
                capture = msgspec.structs.replace(context, capture=inbox)
                providers[name] = (ProviderSlot(None, inbox_type(InboxConfig(), capture)),)
                captured[name] = variable
            else:
                make = partial(_instance, environ, context)
                providers[name] = build_providers(config, name, channel_type, environ, make, own_types)
                if variable:
                    unconfigured[name] = variable
            channels[name] = providers[name][0].channel
        return cls(channels, providers, captured, unconfigured)

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __contains__(self, name: object) -> bool:
        return name in self._channels

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    def items(self) -> Iterable[tuple[str, Channel]]:
        """The active channels by name."""
        return self._channels.items()

    def providers(self, name: str) -> tuple[ProviderSlot, ...]:
        """The channel's providers in the order tried (failover); the first is ``self[name]``."""
        return self._providers[name]

    def _instances(self) -> list[Channel]:
        return [slot.channel for slots in self._providers.values() for slot in slots]

    async def startup(self) -> None:
        """Start every channel (every provider's instance)."""
        for channel in self._instances():
            await channel.startup()

    async def shutdown(self) -> None:
        """Stop every channel, even if one fails to."""
        for channel in self._instances():
            await channel.shutdown()
