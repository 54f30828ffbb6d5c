"""Mia's environment names as aliases of Tidings' own, and which one wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from host.errors import ConfigurationError
from host.settings import Settings, load_environment, load_settings, mia_leftovers


def settings_of(tmp_path: Path, config: dict[str, Any] | None = None, **env: str) -> Settings:
    path = tmp_path / "configuration.json"
    path.write_text(json.dumps(config or {"activeChannels": ["email"]}))
    return load_settings({"CONFIGURATION_PATH": str(path), **env})


def test_mia_collection_names_are_read() -> None:
    env = load_environment({"USERS_CRUD_NAME": "citizens", "TEMPLATES_CRUD_NAME": "message_templates"})
    assert (env.users_collection, env.mia_templates_collection) == ("citizens", "message_templates")
    assert load_environment({}).mia_templates_collection is None


def test_tidings_own_name_wins_over_mias() -> None:
    env = load_environment({"USERS_CRUD_NAME": "citizens", "USERS_COLLECTION": "people"})
    assert env.users_collection == "people"
    env = load_environment(
        {"FILE_SERVICE_NAME": "files-service", "FILE_SERVICE_URL": "https://files.example"}
    )
    assert env.file_service_url == "https://files.example"


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("files-service", "http://files-service"),
        ("files.tenant.svc.cluster.local:8080", "http://files.tenant.svc.cluster.local:8080"),
        ("https://files.example/base", "https://files.example/base"),
    ],
)
def test_the_file_service_name_becomes_a_url(name: str, url: str) -> None:
    assert load_environment({"FILE_SERVICE_NAME": name}).file_service_url == url


def test_a_file_service_name_that_is_no_host_is_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_environment({"FILE_SERVICE_NAME": "files service/x"})
    assert caught.value.key == "FILE_SERVICE_NAME"


def test_default_locale_fills_in_when_the_file_sets_none(tmp_path: Path) -> None:
    assert settings_of(tmp_path, DEFAULT_LOCALE="it-IT").config.default_locale == "it-IT"
    assert settings_of(tmp_path).config.default_locale == "en-US"


def test_the_files_default_locale_wins_over_default_locale(tmp_path: Path) -> None:
    config = {"activeChannels": ["email"], "defaultLocale": "de-DE"}
    assert settings_of(tmp_path, config, DEFAULT_LOCALE="it-IT").config.default_locale == "de-DE"


def test_an_unknown_locale_is_named_where_it_was_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings_of(tmp_path, DEFAULT_LOCALE="klingon-XX")
    assert caught.value.key == "DEFAULT_LOCALE"
    with pytest.raises(ConfigurationError) as caught:
        settings_of(tmp_path, {"activeChannels": ["email"], "defaultLocale": "xx-YY-nope"})
    assert caught.value.key == "defaultLocale"


def test_mia_variables_tidings_does_not_need_are_listed_with_what_it_uses() -> None:
    lines = mia_leftovers(
        {"MAIL_SERVICE_NAME": "ses-mail", "KAFKA_BROKERS": "kafka:9092", "KALEYRA_SID": "x", "SMTP_HOST": "h"}
    )
    assert lines == [
        "MAIL_SERVICE_NAME is set but not used: Tidings sends e-mail over SMTP itself "
        "(SMTP_HOST, SMTP_PORT ...)",
        "KAFKA_BROKERS is set but not used: push goes to FCM over HTTP, not through Kafka",
    ]


def test_the_soft_delete_state_field_is_mias_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    assert settings_of(tmp_path).config.user_fields.state == "__STATE__"
    config = {"activeChannels": ["email"], "userFields": {"state": None}}
    assert settings_of(tmp_path, config).config.user_fields.state is None
