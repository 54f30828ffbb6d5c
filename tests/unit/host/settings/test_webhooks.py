"""Webhook endpoints' own headers: values from environment variables only, every mistake named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from host.errors import ConfigurationError
from host.settings import load_settings
from host.settings.webhooks import endpoint_headers


def settings_with(tmp_path: Path, endpoint: dict[str, Any], **env: str) -> Any:
    path = tmp_path / "configuration.json"
    config = {"activeChannels": ["email"], "sender": {"email": "a@b.co"}, "webhooks": [endpoint]}
    path.write_text(json.dumps(config))
    return load_settings({"CONFIGURATION_PATH": str(path), **env})


def test_a_header_value_comes_from_the_environment(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path, {"url": "https://h.example/x", "headers": {"Authorization": {"env": "HOOK_TOKEN"}}},
        HOOK_TOKEN="Bearer abc",
    )  # fmt: skip
    [endpoint] = settings.config.webhooks
    assert endpoint_headers(endpoint, settings.environ, 0) == {"Authorization": "Bearer abc"}
    assert "Bearer abc" not in repr(settings)


@pytest.mark.parametrize(
    ("headers", "env", "named"),
    [
        ({"Authorization": "Bearer in-the-file"}, {}, "webhooks[0].headers.Authorization"),
        ({"Authorization": {"env": "HOOK_TOKEN"}}, {}, "webhooks[0].headers.Authorization: environment"),
        ({"Authorization": {"env": "HOOK_TOKEN"}}, {"HOOK_TOKEN": "a\r\nX-Evil: 1"}, "line break"),
        ({"Authorization": {"env": "HOOK TOKEN"}}, {}, "webhooks[0].headers.Authorization: must be"),
        ({"Authorization": {"env": "T", "value": "x"}}, {}, "webhooks[0].headers.Authorization: must be"),
        ({"Tidings-Signature": {"env": "T"}}, {"T": "x"}, "written by Tidings"),
        ({"Content-Type": {"env": "T"}}, {"T": "x"}, "written by Tidings"),
        ({"Bad Name": {"env": "T"}}, {"T": "x"}, "not a header name"),
    ],
)
def test_a_wrong_header_is_named(
    tmp_path: Path, headers: dict[str, Any], env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings_with(tmp_path, {"url": "https://h.example/x", "headers": headers}, **env)
    assert named in str(caught.value)
    assert "in-the-file" not in str(caught.value)
