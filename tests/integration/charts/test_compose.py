"""compose.yaml and the Helm chart run Tidings alike: the same variables for the API and the workers.

compose.yaml is also checked against the Compose Specification's own JSON schema (from compose-go, the
library docker compose reads files with), so it stays a file docker compose accepts.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import yaml

from tests.integration.charts.conftest import EVERYTHING, ROOT, Render, container, find
from tests.support import chart_tools as tools

COMPOSE = ROOT / "compose.yaml"
#: variables only one of them sets, and why (none today: add one here, with its reason, if ever needed)
CHART_ONLY: dict[str, str] = {}
COMPOSE_ONLY: dict[str, str] = {}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def compose_variables(service: str) -> set[str]:
    return set(compose()["services"][service]["environment"])


def chart_variables(manifests: list[dict[str, Any]], kind: str, component: str) -> set[str]:
    return {variable["name"] for variable in container(find(manifests, kind, component))["env"]}


def test_compose_yaml_is_a_valid_compose_file() -> None:
    schema = json.loads(tools.compose_schema().read_text())
    validator = jsonschema_rs.validator_for(schema)
    assert [error.message for error in validator.iter_errors(compose())] == []
    broken = compose()
    broken["services"]["api"]["environmen"] = {}
    assert list(validator.iter_errors(broken)), "the schema checks service keys"


def test_the_api_and_the_workers_get_the_same_variables_from_compose_and_the_chart(render: Render) -> None:
    # every optional value set, so that every variable the chart can set is there
    manifests = render("-f", str(EVERYTHING))
    chart = {name: chart_variables(manifests, "Deployment", name) for name in ("api", "worker")}
    composed = {name: compose_variables(name) for name in ("api", "worker")}
    assert chart["api"] == chart["worker"]
    assert composed["api"] == composed["worker"]
    assert chart["api"] - composed["api"] == set(CHART_ONLY)
    assert composed["api"] - chart["api"] == set(COMPOSE_ONLY)
    assert len(chart["api"]) >= 20, chart["api"]  # really read, not two empty sets


def test_the_migration_job_gets_the_database_variables_only(render: Render) -> None:
    manifests = render("-f", str(EVERYTHING))
    job = chart_variables(manifests, "Job", "migrate")
    assert {"MONGODB_URL", "MONGODB_DATABASE"} <= job <= chart_variables(manifests, "Deployment", "api")
    assert not job & {"REDIS_URL", "TIDINGS_SECRET_KEY", "SMTP_PASSWORD", "TWILIO_AUTH_TOKEN"}
