"""The e-mail channel's configuration: read from environment strings, the password never shown."""

from __future__ import annotations

import msgspec
import pytest

from channels.email import EmailConfig


def test_config_from_environment_strings_hides_password() -> None:
    raw = {"host": "mail.example", "port": "2525", "user": "u", "password": "hunter2", "tls": "starttls"}
    raw |= {"validate_certs": "false", "timeout": "2.5"}
    config = msgspec.convert(raw, EmailConfig, strict=False)
    assert (config.port, config.validate_certs, config.timeout) == (2525, False, 2.5)
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config)
    assert "hunter2" not in str(config.__rich_repr__())
    with pytest.raises(msgspec.ValidationError, match=r"\$\.port"):
        msgspec.convert({"port": "0"}, EmailConfig, strict=False)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.tls"):
        msgspec.convert({"tls": "ssl"}, EmailConfig, strict=False)
