"""Configuration in one place: environment variables for connections and secrets, a JSON file for the rest.

Both are decoded with msgspec into typed Structs; anything invalid raises ConfigurationError naming the
exact key, and the service refuses to start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from host.errors import ConfigurationError
from host.settings.webhooks import WebhookEndpoint

__all__ = [
    "DeliveryPolicy",
    "Environment",
    "FlowManagerEvents",
    "ServiceConfig",
    "Settings",
    "UserFields",
    "load_service_config",
    "load_settings",
]


class UserFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Names of the user-document fields Tidings reads (SPEC §3)."""

    id: str = "_id"
    email_address: str = "emailAddress"
    phone_number: str = "phoneNumber"
    device_token: str = "deviceToken"  # noqa: S105 (a field name, not a secret)
    clusters: str = "clusters"
    locale: str = "locale"

    def field_for(self, key: str) -> str:
        """Return the user-document field mapped to a ``userFields`` key such as ``emailAddress``."""
        for name, value in msgspec.structs.asdict(self).items():
            if _camel(name) == key:
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


class FlowManagerEvents(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Labels of the events sent back to the Flow Manager after /saga/send."""

    success_event_label: str
    fail_event_label: str


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
    flow_manager: FlowManagerEvents | None = None
    default_locale: str = "en-US"
    default_timezone: str = "UTC"
    #: the syntax of messages written in a request and of templates created without one: Handlebars, as
    #: in Mia (whose configuration has no such key), or Jinja; a stored template keeps its own ``syntax``
    template_syntax: Literal["handlebars", "jinja"] = "handlebars"
    #: endpoints that receive signed delivery events (host.events.webhooks)
    webhooks: list[WebhookEndpoint] = []


class Environment(msgspec.Struct, frozen=True, kw_only=True):
    """Connections and secrets, read from environment variables only."""

    mongodb_url: str | None = None
    mongodb_database: str = "tidings"
    redis_url: str | None = None
    users_collection: str = "users"
    file_service_url: str | None = None
    flow_manager_url: str | None = None
    configuration_path: str | None = None
    #: signs the unsubscribe links of e-mails (host.access.unsubscribe_links); never logged
    secret_key: str | None = None
    #: where recipients reach Tidings' public pages (the unsubscribe links)
    public_url: str = "http://127.0.0.1:8000"

    def __repr__(self) -> str:
        # URLs may carry credentials: never print them
        return "Environment(...)"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the host needs to run, decoded once at start-up."""

    env: Environment
    config: ServiceConfig
    #: the raw environment, kept for channel plugins' own variables (never logged)
    environ: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Settings(config={self.config!r})"


_ENV_NAMES = {
    "mongodb_url": "MONGODB_URL",
    "mongodb_database": "MONGODB_DATABASE",
    "redis_url": "REDIS_URL",
    "users_collection": "USERS_COLLECTION",
    "file_service_url": "FILE_SERVICE_URL",
    "flow_manager_url": "FLOW_MANAGER_URL",
    "configuration_path": "CONFIGURATION_PATH",
    "secret_key": "TIDINGS_SECRET_KEY",
    "public_url": "TIDINGS_PUBLIC_URL",
}

_PATH_RE = re.compile(r"at `\$(?P<path>[^`]*)`")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def load_service_config(raw: bytes | str) -> ServiceConfig:
    """Decode and check a service configuration document, naming the wrong key on error."""
    try:
        config = msgspec.json.decode(raw, type=ServiceConfig)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH_RE.search(text)
        key = match.group("path").lstrip(".") if match else "(root)"
        raise ConfigurationError(key or "(root)", _PATH_RE.sub("", text).strip(" -")) from exc
    except msgspec.DecodeError as exc:
        raise ConfigurationError("(file)", f"not valid JSON: {exc}") from exc
    if not config.active_channels:
        raise ConfigurationError("activeChannels", "must list at least one channel")
    if len(set(config.active_channels)) != len(config.active_channels):
        raise ConfigurationError("activeChannels", "lists a channel twice")
    for channel, sender in config.sender.items():
        if not isinstance(sender, str) or not sender.strip():
            raise ConfigurationError(f"sender.{channel}", "must be a non-empty string")
    return config


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment and the configuration file it points to."""
    environ = dict(os.environ if environ is None else environ)
    values = {field: environ[name] for field, name in _ENV_NAMES.items() if environ.get(name)}
    env = msgspec.convert(values, Environment)
    if not env.configuration_path:
        raise ConfigurationError("CONFIGURATION_PATH", "environment variable is not set")
    path = Path(env.configuration_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError("CONFIGURATION_PATH", f"cannot read {path}: {exc.strerror}") from exc
    return Settings(env=env, config=load_service_config(raw), environ=environ)
