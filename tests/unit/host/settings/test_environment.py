"""The environment as settings read it: ``TIDINGS_API_AUTH`` on by default, and a wrong value named."""

from __future__ import annotations

import pytest

from host.api.auth import AUTH_ENV
from host.errors import ConfigurationError
from host.settings import load_environment


def test_the_setting_is_on_by_default_and_checked() -> None:
    assert load_environment({}).api_auth is True
    assert load_environment({AUTH_ENV: "on"}).api_auth is True
    assert load_environment({AUTH_ENV: "OFF"}).api_auth is False
    with pytest.raises(ConfigurationError) as raised:
        load_environment({AUTH_ENV: "maybe"})
    assert raised.value.key == AUTH_ENV
