"""Configuration in one place: the environment (connections, secrets, process options) and the file.

Every other room may import this one. Nothing outside it reads ``os.environ`` (channel plugins get
their own variables through the registry, from :attr:`Settings.environ`). Everything is decoded once,
at start-up, into typed frozen Structs:

- :mod:`host.settings.environment`: :class:`Environment` and the variable names (with Mia's aliases);
- :mod:`host.settings.service`: :class:`ServiceConfig`, the JSON file at ``CONFIGURATION_PATH``;
- :mod:`host.settings.flow_manager`: the saga settings, Tidings' ``flowManager`` or Mia's
  ``flowManagerConfiguration`` (its script files are read here, at start-up);
- :mod:`host.settings.webhooks`: the ``webhooks`` entries of that file;
- :mod:`host.settings.lanes`: the priority lanes and the ``lanes`` key;
- :mod:`host.settings.quiet_hours`: quiet-hour windows (``quietHours``, and users' own);
- :mod:`host.settings.bounces`: its ``bounces`` object (VERP domain, soft bounces, provider webhooks).

Anything invalid raises ConfigurationError naming the exact variable or key; the CLI prints that one
line and exits with code 2.

May import: host.errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from host.errors import ConfigurationError
from host.settings.bounces import BounceConfig, SesConfig, SoftBouncePolicy
from host.settings.environment import Environment, load_environment, mia_leftovers, parse_flag
from host.settings.flow_manager import (
    FlowManagerConfiguration,
    FlowManagerEvents,
    MetadataSchema,
    SagaScriptSource,
    SagaSettings,
    ScriptLimits,
    resolve_saga,
)
from host.settings.lanes import DEFAULT_LANE, LANES, Lane, LanePolicy, lane_of
from host.settings.quiet_hours import QuietHours
from host.settings.service import (
    DeliveryPolicy,
    ServiceConfig,
    UserFields,
    apply_default_locale,
    camel,
    load_service_config,
)
from host.settings.webhooks import EVENT_TYPES, EventType, WebhookEndpoint, endpoint_headers

__all__ = [
    "DEFAULT_LANE",
    "EVENT_TYPES",
    "LANES",
    "BounceConfig",
    "DeliveryPolicy",
    "Environment",
    "EventType",
    "FlowManagerConfiguration",
    "FlowManagerEvents",
    "Lane",
    "LanePolicy",
    "MetadataSchema",
    "QuietHours",
    "SagaScriptSource",
    "SagaSettings",
    "ScriptLimits",
    "ServiceConfig",
    "SesConfig",
    "Settings",
    "SoftBouncePolicy",
    "UserFields",
    "WebhookEndpoint",
    "camel",
    "lane_of",
    "load_environment",
    "load_service_config",
    "load_settings",
    "mia_leftovers",
    "parse_flag",
]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the host needs to run, decoded once at start-up."""

    env: Environment
    config: ServiceConfig
    #: /saga/send: how commands are read and where events go (host.settings.flow_manager)
    saga: SagaSettings = SagaSettings()
    #: the raw environment, kept for channel plugins' own variables (never logged)
    environ: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Settings(config={self.config!r})"


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Settings:
    """Read the environment (``os.environ`` by default) and the configuration file it points to.

    ``defaults`` fill variables the environment does not set; ``overrides`` replace them (``None``
    removes one): the embedded mode uses both.
    """
    merged: dict[str, str | None] = {**(defaults or {}), **(os.environ if environ is None else environ)}
    merged.update(overrides or {})
    environ = {name: value for name, value in merged.items() if value is not None}
    env = load_environment(environ)
    if not env.configuration_path:
        raise ConfigurationError("CONFIGURATION_PATH", "environment variable is not set")
    path = Path(env.configuration_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError("CONFIGURATION_PATH", f"cannot read {path}: {exc.strerror}") from exc
    config = apply_default_locale(load_service_config(raw), raw, env.default_locale)
    saga = resolve_saga(
        config.flow_manager,
        config.flow_manager_configuration,
        config.script_limits,
        env_url=env.flow_manager_url,
        config_dir=path.resolve().parent,
    )
    for index, endpoint in enumerate(config.webhooks):
        endpoint_headers(endpoint, environ, index)  # a header's variable not set stops start-up here
    return Settings(env=env, config=config, environ=environ, saga=saga)
