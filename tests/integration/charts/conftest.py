"""Fixtures of the chart tests: the pinned helm and kubeconform (tests/support/chart_tools.py), rendering."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import chart_tools as tools

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "tidings"
EVERYTHING = Path(__file__).with_name("values-everything.yaml")

Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def helm() -> Path:
    # built on first use when scripts/test did not already (minutes, once per machine)
    return tools.helm()


@pytest.fixture(scope="session")
def kubeconform() -> Path:
    return tools.kubeconform()


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """helm, its output captured (``template`` and ``lint`` need no cluster and no network)."""
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """``render(*helm_template_args)``: the manifests ``helm template`` writes, parsed."""

    def rendered(*args: str) -> list[dict[str, Any]]:
        done = run_helm(helm, "template", "t", str(CHART), *args)
        assert done.returncode == 0, done.stderr
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    return rendered


def find(manifests: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    """The one manifest of this kind for this component (api, worker, migrate)."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind and m["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, [(m["kind"], m["metadata"]["name"]) for m in manifests]
    return found[0]


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    containers = manifest["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result
