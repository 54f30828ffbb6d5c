"""The service configuration file (``CONFIGURATION_PATH``): channels, user fields, senders, policies.

Decoded with msgspec into frozen Structs that refuse unknown keys, so a typo is named; anything invalid
raises ConfigurationError with the exact key (``sender.email``, ``channels.voice.providers[1]`` ...).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from babel import Locale, UnknownLocaleError

from host.errors import ConfigurationError, validation_problem
from host.settings.bounces import BounceConfig
from host.settings.flow_manager import FlowManagerConfiguration, FlowManagerEvents, ScriptLimits
from host.settings.lanes import LanePolicy
from host.settings.quiet_hours import QuietHours, parse_window
from host.settings.webhooks import WebhookEndpoint

__all__ = [
    "DeliveryPolicy",
    "FlowManagerEvents",
    "ServiceConfig",
    "UserFields",
    "apply_default_locale",
    "camel",
    "load_service_config",
]

_KEY_BELOW = re.compile(r"[A-Za-z_]\w*\.[^\s:]+")


class UserFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Names of the user-document fields Tidings reads (SPEC §3)."""

    id: str = "_id"
    email_address: str = "emailAddress"
    phone_number: str = "phoneNumber"
    device_token: str = "deviceToken"  # noqa: S105 (a field name, not a secret)
    clusters: str = "clusters"
    locale: str = "locale"
    #: a CRUD collection's soft-delete state: only users without it, or ``PUBLIC``, are messaged
    #: (``null`` turns the check off)
    state: str | None = "__STATE__"
    #: the user's IANA time zone (``Europe/Rome``); without one, ``defaultTimezone``
    timezone: str = "timezone"
    #: the user's own quiet hours (``{"start": "22:00", "end": "07:00"}``); read only when mapped
    quiet_hours: str | None = None

    def field_for(self, key: str) -> str:
        """Return the user-document field mapped to a ``userFields`` key such as ``emailAddress``."""
        for name, value in msgspec.structs.asdict(self).items():
            if camel(name) == key and value is not None:
                return str(value)
        # a plugin channel may name a field that has no mapping: read it as is
        return key


class DeliveryPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """How transient failures are retried."""

    max_attempts: int = 5
    min_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    #: a delivery left `sending` this long (a worker died mid-send) is handed out again
    sending_lease_seconds: float = 300.0
    #: a delivery left `queued` and enqueued this long ago is enqueued again
    enqueue_lease_seconds: float = 900.0


class ServiceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """The JSON service configuration file at ``CONFIGURATION_PATH``."""

    active_channels: list[str]
    user_fields: UserFields = UserFields()
    #: sender per channel (``email``, ``sms``, ``voice`` or a plugin channel's name); checked on load
    sender: dict[str, Any] = {}
    android_intent_action: str | None = None
    #: per-channel options, e.g. ``{"voice": {"voice": "alice", "language": "it-IT"}}``
    channels: dict[str, dict[str, Any]] = {}
    delivery: DeliveryPolicy = DeliveryPolicy()
    #: Tidings' labels of the saga events (the URL is ``FLOW_MANAGER_URL``)
    flow_manager: FlowManagerEvents | None = None
    #: Mia's saga settings, verbatim (host.settings.flow_manager)
    flow_manager_configuration: FlowManagerConfiguration | None = None
    #: what one run of a saga script may use
    script_limits: ScriptLimits = ScriptLimits()
    default_locale: str = "en-US"
    default_timezone: str = "UTC"
    #: the syntax of messages written in a request and of templates created without one: Handlebars, as
    #: in Mia (whose configuration has no such key), or Jinja; a stored template keeps its own ``syntax``
    template_syntax: Literal["handlebars", "jinja"] = "handlebars"
    #: endpoints that receive signed delivery events (host.events.webhooks)
    webhooks: list[WebhookEndpoint] = []
    #: bounces and complaints: the VERP domain, soft-bounce policy, provider webhooks (host.feedback)
    bounces: BounceConfig = BounceConfig()
    #: priority lanes: when a dispatch defaults to ``bulk``, the threads kept for ``high``
    lanes: LanePolicy = LanePolicy()
    #: the service's quiet hours, in each user's time zone: non-``high`` deliveries wait for their end
    quiet_hours: QuietHours | None = None


def camel(name: str) -> str:
    """The camelCase spelling of a snake_case name (``email_address`` → ``emailAddress``)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def load_service_config(raw: bytes | str) -> ServiceConfig:
    """Decode and check a service configuration document, naming the wrong key on error."""
    try:
        config = msgspec.json.decode(raw, type=ServiceConfig)
    except msgspec.ValidationError as exc:
        key, problem = validation_problem(exc)
        # a check of a Struct's own (__post_init__) names the key below it: "headers.Authorization: ..."
        below, colon, rest = problem.partition(": ")
        if colon and _KEY_BELOW.fullmatch(below):
            key, problem = f"{key}.{below}" if key else below, rest
        raise ConfigurationError(key or "(root)", problem) from exc
    except msgspec.DecodeError as exc:
        raise ConfigurationError("(file)", f"not valid JSON: {exc}") from exc
    if not config.active_channels:
        raise ConfigurationError("activeChannels", "must list at least one channel")
    if len(set(config.active_channels)) != len(config.active_channels):
        raise ConfigurationError("activeChannels", "lists a channel twice")
    for channel, sender in config.sender.items():
        if not isinstance(sender, str) or not sender.strip():
            raise ConfigurationError(f"sender.{channel}", "must be a non-empty string")
    _check_times(config)
    return config


def _check_times(config: ServiceConfig) -> None:
    """The keys msgspec cannot check by type: the time zone, the quiet hours, the lanes' numbers."""
    try:
        ZoneInfo(config.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            "defaultTimezone", f"{config.default_timezone!r} is not an IANA time zone (e.g. 'Europe/Rome')"
        ) from None
    if config.quiet_hours is not None:
        try:
            parse_window(config.quiet_hours)
        except ValueError as exc:
            key, _, reason = str(exc).partition(": ")
            raise ConfigurationError(f"quietHours.{key}", reason) from None
    if config.lanes.bulk_above < 0:
        raise ConfigurationError("lanes.bulkAbove", "must be zero or more")
    if config.lanes.reserved_threads is not None and config.lanes.reserved_threads < 0:
        raise ConfigurationError("lanes.reservedThreads", "must be zero or more")


class _LocaleKey(msgspec.Struct, rename="camel"):
    """Only whether the file itself sets ``defaultLocale`` (every other key is ServiceConfig's)."""

    default_locale: str | None = None


def _check_locale(tag: str, key: str) -> None:
    try:
        Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ConfigurationError(key, f"unknown locale {tag!r} (a BCP 47 tag such as it-IT)") from None


def apply_default_locale(config: ServiceConfig, raw: bytes | str, environment: str | None) -> ServiceConfig:
    """``defaultLocale`` from the file; else Mia's ``DEFAULT_LOCALE``; else ``en-US``. Both are checked."""
    if msgspec.json.decode(raw, type=_LocaleKey).default_locale is not None:
        _check_locale(config.default_locale, "defaultLocale")
        return config
    if environment:
        _check_locale(environment.strip(), "DEFAULT_LOCALE")
        return msgspec.structs.replace(config, default_locale=environment.strip())
    return config
