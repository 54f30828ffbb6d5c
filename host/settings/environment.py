"""The environment: connections, secrets and process options, read from environment variables only.

Every variable Tidings reads is a field of :class:`Environment` (the channel plugins' own variables are
read by the registry from the same mapping, through each channel's ``config_type``). Values are decoded
once, typed; a malformed one raises ConfigurationError naming the variable. Mia's variable names are
accepted as aliases of Tidings' own (the README lists them): the first name set wins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from host.errors import ConfigurationError

__all__ = ["ENV_NAMES", "MIA_UNUSED", "Environment", "load_environment", "mia_leftovers", "parse_flag"]

_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})
_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def parse_flag(value: str | None, variable: str, *, default: bool) -> bool:
    """A yes/no variable (``on``/``off``, ``true``/``false``, ``1``/``0``, ``yes``/``no``)."""
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise ConfigurationError(variable, f"must be on or off, not {value!r}")


class Environment(msgspec.Struct, frozen=True, kw_only=True):
    """Connections, secrets and process options (``__repr__`` prints none of them)."""

    mongodb_url: str | None = None
    mongodb_database: str = "tidings"
    redis_url: str | None = None
    users_collection: str = "users"
    #: Mia's templates collection (``TEMPLATES_CRUD_NAME``), read and written in place, in Mia's shape
    mia_templates_collection: str | None = None
    file_service_url: str | None = None
    flow_manager_url: str | None = None
    configuration_path: str | None = None
    #: signs and seals the unsubscribe links of e-mails (host.access.unsubscribe_links); never logged
    secret_key: str | None = None
    #: where recipients reach Tidings' public pages (unsubscribe links, provider callbacks)
    public_url: str = "http://127.0.0.1:8000"
    #: API keys required on the JSON API (off only behind an authenticating gateway)
    api_auth: bool = True
    #: apply pending migrations at start-up instead of refusing to start
    auto_migrate: bool = False
    #: signs outbound delivery events; required once webhooks are configured
    webhook_secret: str | None = None
    #: the console's cookies are Secure (off only for plain HTTP on loopback)
    console_secure_cookies: bool = True
    #: Twilio's auth token, which also signs its status callbacks (host.feedback)
    twilio_auth_token: str | None = None
    #: SendGrid's Event Webhook verification key (base64 DER, ECDSA P-256): enables /feedback/sendgrid
    sendgrid_webhook_public_key: str | None = None
    #: Mailgun's HTTP webhook signing key (HMAC-SHA256): enables /feedback/mailgun; never logged
    mailgun_webhook_signing_key: str | None = None
    #: Mia's ``DEFAULT_LOCALE``: the configuration file's ``defaultLocale`` when the file sets none
    default_locale: str | None = None
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    #: the embedded mode's files (default ``~/.local/share/tidings``)
    data_dir: str | None = None
    #: downloaded tools, e.g. the development database's jars (default ``~/.cache/tidings``)
    cache_dir: str | None = None

    def __repr__(self) -> str:
        # URLs may carry credentials, and secrets live here: never print them
        return "Environment(...)"

    def data_path(self) -> Path:
        """The embedded mode's data directory, created on first use, readable by its user alone (0700).

        It holds the development database (session ids, password hashes) and the embedded secret key;
        a directory made looser by an earlier version (or by hand) is tightened.
        """
        path = Path(self.data_dir) if self.data_dir else Path.home() / ".local" / "share" / "tidings"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
        return path

    def cache_path(self) -> Path:
        """Where downloaded tools are kept."""
        return Path(self.cache_dir) if self.cache_dir else Path.home() / ".cache" / "tidings"


#: field → the variable names that set it, Tidings' own first, then Mia's aliases
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "mongodb_url": ("MONGODB_URL",),
    "mongodb_database": ("MONGODB_DATABASE",),
    "redis_url": ("REDIS_URL",),
    "users_collection": ("USERS_COLLECTION", "USERS_CRUD_NAME"),
    "mia_templates_collection": ("TEMPLATES_CRUD_NAME",),
    # Mia's FILE_SERVICE_NAME is a service name: it becomes http://<name>
    "file_service_url": ("FILE_SERVICE_URL", "FILE_SERVICE_NAME"),
    "flow_manager_url": ("FLOW_MANAGER_URL",),
    "configuration_path": ("CONFIGURATION_PATH",),
    "secret_key": ("TIDINGS_SECRET_KEY",),
    "public_url": ("TIDINGS_PUBLIC_URL",),
    "api_auth": ("TIDINGS_API_AUTH",),
    "auto_migrate": ("TIDINGS_AUTO_MIGRATE",),
    "webhook_secret": ("TIDINGS_WEBHOOK_SECRET",),
    "console_secure_cookies": ("CONSOLE_SECURE_COOKIES",),
    "twilio_auth_token": ("TWILIO_AUTH_TOKEN",),
    "sendgrid_webhook_public_key": ("SENDGRID_WEBHOOK_PUBLIC_KEY",),
    "mailgun_webhook_signing_key": ("MAILGUN_WEBHOOK_SIGNING_KEY",),
    "default_locale": ("DEFAULT_LOCALE",),
    "log_level": ("TIDINGS_LOG_LEVEL",),
    "log_format": ("TIDINGS_LOG_FORMAT",),
    "data_dir": ("TIDINGS_DATA_DIR",),
    "cache_dir": ("TIDINGS_CACHE_DIR",),
}
_FLAGS = {"api_auth": True, "auto_migrate": False, "console_secure_cookies": True}
#: a Kubernetes service name, optionally with a port (``files-service``, ``files.ns.svc:8080``)
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")

#: Mia's variables that Tidings does not need, and why (logged once at start-up when set)
MIA_UNUSED: dict[str, str] = {
    "CRUD_SERVICE_NAME": "Tidings reads the users and templates collections in MongoDB itself (MONGODB_URL)",
    "MAIL_SERVICE_NAME": "Tidings sends e-mail over SMTP itself (SMTP_HOST, SMTP_PORT ...)",
    "SMS_SERVICE_NAME": "Tidings sends SMS through Twilio or Kaleyra itself (TWILIO_*, KALEYRA_*)",
    "KAFKA_2_FIREBASE_SERVICE_NAME": "Tidings pushes to FCM itself (GOOGLE_APPLICATION_CREDENTIALS)",
    "KAFKA_CLIENT_ID": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_BROKERS": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_TOPICS": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_AUTH_MECHANISM": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_USERNAME": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_PASSWORD": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_CONNECTION_TIMEOUT": "push goes to FCM over HTTP, not through Kafka",
    "KAFKA_AUTHENTICATION_TIMEOUT": "push goes to FCM over HTTP, not through Kafka",
}


def mia_leftovers(environ: Mapping[str, str]) -> list[str]:
    """One line per Mia variable set here that Tidings ignores, saying what it uses instead."""
    return [f"{name} is set but not used: {why}" for name, why in MIA_UNUSED.items() if environ.get(name)]


def _service_url(variable: str, value: str) -> str:
    """``FILE_SERVICE_NAME`` (a service name) as a URL; Tidings' own ``FILE_SERVICE_URL`` as given."""
    if variable == "FILE_SERVICE_URL" or "://" in value:
        return value
    if not _SERVICE_NAME.match(value.strip()):
        raise ConfigurationError(variable, f"must be a service name such as files-service, not {value!r}")
    return f"http://{value.strip()}"


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = environ.get(name)
        if value:
            return name, value
    return None


def load_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Decode the environment (``os.environ`` by default); ConfigurationError names a bad variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field, names in ENV_NAMES.items():
        found = _first(environ, names)
        if found is None:
            continue
        variable, value = found
        if field in _FLAGS:
            values[field] = parse_flag(value, variable, default=_FLAGS[field])
        elif field == "log_level":
            if value.strip().upper() not in _LEVELS:
                raise ConfigurationError(variable, f"must be one of {', '.join(sorted(_LEVELS))}")
            values[field] = value.strip().upper()
        elif field == "file_service_url":
            values[field] = _service_url(variable, value)
        elif field == "log_format":
            if value.strip().lower() not in ("text", "json"):
                raise ConfigurationError(variable, f"must be text or json, not {value!r}")
            values[field] = value.strip().lower()
        else:
            values[field] = value
    return msgspec.convert(values, Environment)
