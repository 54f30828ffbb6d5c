"""Mia's configuration file, read as it is: the documented example, its keys, and wrong types named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from host.errors import ConfigurationError
from host.settings import load_service_config, load_settings
from tests.support.mia_documents import (
    MIA_CONFIGURATION_EXAMPLE,
    MIA_GET_TEMPLATE_ID_EXAMPLE,
    mia_configuration_json,
)


def settings_of(tmp_path: Path, text: str, **env: str) -> Any:
    path = tmp_path / "configuration.json"
    path.write_text(text)
    return load_settings({"CONFIGURATION_PATH": str(path), **env})


def test_the_documented_example_is_accepted_as_it_is(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, mia_configuration_json())
    config = settings.config
    assert config.active_channels == ["email", "push"]
    assert (config.user_fields.id, config.user_fields.email_address, config.user_fields.clusters) == (
        "fiscalCode",
        "mail",
        "groups",
    )
    assert config.user_fields.device_token == "deviceToken"  # not mapped: Mia's default name
    assert config.android_intent_action == "eu.miaplatform.fakeactivity"
    saga = settings.saga
    assert (saga.url, saga.success_label, saga.fail_label) == (
        "http://flow-manager-service",
        "notificationSent",
        "notificationFailed",
    )
    assert saga.schema is not None
    assert (saga.schema.channels, saga.schema.recipients, saga.schema.template_id) == (
        "notifications.channels",
        "buyer.name",
        "notification.channel",
    )
    assert saga.get_template_id is None and saga.get_data is None


def test_the_example_with_its_trailing_comma_is_not_json_and_says_so() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(MIA_CONFIGURATION_EXAMPLE)
    assert caught.value.key == "(file)" and "not valid JSON" in caught.value.reason


def test_flow_manager_url_wins_over_service_url(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, mia_configuration_json(), FLOW_MANAGER_URL="http://127.0.0.1:9")
    assert settings.saga.url == "http://127.0.0.1:9"


def test_tidings_own_flow_manager_key_still_works(tmp_path: Path) -> None:
    text = json.dumps(
        {"activeChannels": ["email"], "flowManager": {"successEventLabel": "ok", "failEventLabel": "ko"}}
    )
    saga = settings_of(tmp_path, text, FLOW_MANAGER_URL="http://fm").saga
    assert (saga.url, saga.success_label, saga.fail_label, saga.schema) == ("http://fm", "ok", "ko", None)


def test_both_flow_manager_keys_are_refused(tmp_path: Path) -> None:
    config = json.loads(mia_configuration_json())
    config["flowManager"] = {"successEventLabel": "ok", "failEventLabel": "ko"}
    with pytest.raises(ConfigurationError, match=r"^invalid configuration at flowManager: set either"):
        settings_of(tmp_path, json.dumps(config))


def mia(**changes: Any) -> str:
    config = json.loads(mia_configuration_json())
    config["flowManagerConfiguration"].update(changes)
    return json.dumps(config)


def with_schema(**changes: Any) -> str:
    config = json.loads(mia_configuration_json())
    config["flowManagerConfiguration"]["metadataSchema"].update(changes)
    return json.dumps(config)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (mia(successEventLabel=3), "flowManagerConfiguration.successEventLabel"),
        (mia(serviceUrl=["http://fm"]), "flowManagerConfiguration.serviceUrl"),
        (mia(serviceUrl="flow-manager"), "flowManagerConfiguration.serviceUrl"),
        (mia(getTemplateIdFilePath=7), "flowManagerConfiguration.getTemplateIdFilePath"),
        (mia(metadataSchema="notifications"), "flowManagerConfiguration.metadataSchema"),
        (with_schema(channels=5), "flowManagerConfiguration.metadataSchema.channels"),
        (with_schema(recipients=["buyer.id", 3]), "flowManagerConfiguration.metadataSchema.recipients[1]"),
        (with_schema(messageTitle=["a", "b"]), "flowManagerConfiguration.metadataSchema.messageTitle"),
        (with_schema(channel="x"), "flowManagerConfiguration.metadataSchema"),  # a typo of a key
        (mia(metadataSchema={"recipients": "buyer.name"}), "flowManagerConfiguration.metadataSchema"),
        (mia(failEventLable="x"), "flowManagerConfiguration"),
    ],
)
def test_a_wrong_type_or_key_names_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(text)
    assert caught.value.key == key


def test_a_missing_script_file_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings_of(tmp_path, mia(getDataFilePath="/no/such/getData.js"))
    assert caught.value.key == "flowManagerConfiguration.getDataFilePath"
    assert "/no/such/getData.js" in caught.value.reason


def test_script_paths_are_read_relative_to_the_configuration_file(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "getTemplateId.js").write_text(MIA_GET_TEMPLATE_ID_EXAMPLE)
    saga = settings_of(tmp_path, mia(getTemplateIdFilePath="scripts/getTemplateId.js")).saga
    assert saga.get_template_id is not None
    assert saga.get_template_id.path == str(tmp_path / "scripts" / "getTemplateId.js")
    assert saga.get_template_id.source == MIA_GET_TEMPLATE_ID_EXAMPLE


def start_api(tmp_path: Path, text: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``tidings api`` with this configuration and unreachable services, run to its exit."""
    path = tmp_path / "configuration.json"
    path.write_text(text)
    environ = {
        **os.environ,
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": "mongodb://127.0.0.1:1",
        "REDIS_URL": "redis://127.0.0.1:1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "host.cli.main", "api"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_start_up_stops_with_exit_code_2_and_one_line_naming_the_key(tmp_path: Path) -> None:
    done = start_api(tmp_path, mia(failEventLabel=False))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tidings: invalid configuration at flowManagerConfiguration.failEventLabel: "
        "Expected `str | null`, got `bool`"
    ]


def test_a_script_with_a_syntax_error_stops_start_up_naming_the_file(tmp_path: Path) -> None:
    script = tmp_path / "getTemplateId.js"
    script.write_text("module.exports = function getTemplateId(event) {\n  return event.value.\n}\n")
    config = json.loads(mia(getTemplateIdFilePath=str(script)))
    config["activeChannels"] = ["email"]  # push would first ask for its credentials, e-mail for its server
    done = start_api(tmp_path, json.dumps(config), SMTP_HOST="127.0.0.1")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(
        "tidings: invalid configuration at flowManagerConfiguration.getTemplateIdFilePath: "
    )
    assert str(script) in line and "SyntaxError" in line and "(line 3)" in line
