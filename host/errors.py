"""The one error tree of Tidings: every failure the host or a channel signals is a TidingsError."""

from __future__ import annotations

__all__ = [
    "ChannelError",
    "ConfigurationError",
    "InvalidAddress",
    "NotFound",
    "PermanentChannelError",
    "PluginError",
    "RenderError",
    "RequestError",
    "TidingsError",
    "TransientChannelError",
    "validation_problem",
]


class TidingsError(Exception):
    """Root of every error raised on purpose by Tidings."""


class ConfigurationError(TidingsError):
    """The service configuration is invalid; ``key`` names the offending setting."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"invalid configuration at {key}: {reason}")
        self.key = key
        self.reason = reason


class PluginError(TidingsError):
    """A channel plugin is malformed and was refused at registration."""


class RequestError(TidingsError):
    """A client request is wrong; rendered as ``{statusCode, error, message}``."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(RequestError):
    """The addressed resource does not exist."""

    status_code = 404


class RenderError(TidingsError):
    """A message template failed to compile or to render."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        where = f"{field}" if field else "template"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}")
        self.reason = message
        self.field = field
        self.line = line


class ChannelError(TidingsError):
    """A channel could not deliver one message; ``code`` is the provider's code when it gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientChannelError(ChannelError):
    """Worth trying again later: timeouts, connection errors, 5xx, 429, SMTP 4xx."""

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Never worth retrying: refused address, SMTP 5xx, Twilio 21211, push subscription gone."""

    def __init__(self, message: str, *, code: str | None = None, address_gone: bool = False) -> None:
        super().__init__(message, code=code)
        self.address_gone = address_gone


class InvalidAddress(PermanentChannelError):
    """The user's address for a channel is malformed; known before anything is sent."""


def validation_problem(exc: Exception) -> tuple[str, str]:
    """The field path and the problem of a msgspec validation error.

    msgspec writes ``Expected `str`, got `int` - at `$.channels[0]```; this returns
    ``("channels[0]", "Expected `str`, got `int`")``, and ``("", text)`` for a message without a path.
    """
    text = str(exc)
    message, found, path = text.rpartition(" - at `$")
    if not found:
        return "", text.strip()
    return path.rstrip("`").lstrip("."), message.strip()
