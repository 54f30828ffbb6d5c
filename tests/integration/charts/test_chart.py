"""The Helm chart: helm lint, the rendered manifests checked by kubeconform against Kubernetes' own schemas,
the values schema refusing wrong types, and what the manifests must hold for Tidings to run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from host.settings import load_service_config
from tests.integration.charts.conftest import CHART, EVERYTHING, Render, container, find, run_helm
from tests.support import chart_tools as tools

#: the variables that carry secrets: only ever read from a Secret, never written into a manifest
SECRET_VARIABLES = {
    "MONGODB_URL",
    "REDIS_URL",
    "TIDINGS_SECRET_KEY",
    "SMTP_PASSWORD",
    "TWILIO_AUTH_TOKEN",
    "VAPID_PRIVATE_KEY",
    "TIDINGS_WEBHOOK_SECRET",
}
VALUE_SETS = {"defaults": (), "everything": ("-f", str(EVERYTHING))}


def kubeconform_check(kubeconform: Path, version: str, manifests: str) -> subprocess.CompletedProcess[str]:
    """kubeconform -strict on these manifests against the schemas of Kubernetes ``version``, offline."""
    location = tools.kubernetes_schemas(version) / "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    return subprocess.run(
        [
            str(kubeconform),
            "-strict",
            "-summary",
            "-kubernetes-version",
            version,
            "-schema-location",
            str(location),
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("values", VALUE_SETS)
def test_helm_lint_passes(helm: Path, values: str) -> None:
    done = run_helm(helm, "lint", "--strict", str(CHART), *VALUE_SETS[values])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("version", tools.KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", VALUE_SETS)
def test_rendered_manifests_are_valid_for_kubernetes(
    helm: Path, kubeconform: Path, version: str, values: str
) -> None:
    rendered = run_helm(helm, "template", "t", str(CHART), "--kube-version", version, *VALUE_SETS[values])
    assert rendered.returncode == 0, rendered.stderr
    count = sum(1 for doc in yaml.safe_load_all(rendered.stdout) if doc)
    checked = kubeconform_check(kubeconform, version, rendered.stdout)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # every manifest had a schema and passed: none skipped for want of one
    assert f"{count} resources found parsing stdin - Valid: {count}, Invalid: 0, Errors: 0, Skipped: 0" in (
        checked.stdout
    ), checked.stdout


def test_kubeconform_refuses_what_kubernetes_would(helm: Path, kubeconform: Path, render: Render) -> None:
    """The schemas are strict and really read: an unknown field and a wrong type are both named."""
    manifests = render()
    worker = find(manifests, "Deployment", "worker")
    worker["spec"]["replica"] = 3  # a typo of replicas
    container(worker)["image"] = 3
    text = yaml.safe_dump_all(manifests)
    checked = kubeconform_check(kubeconform, tools.KUBERNETES_VERSIONS[-1], text)
    assert checked.returncode == 1, checked.stdout
    assert "additional properties 'replica' not allowed" in checked.stdout
    assert "/spec/template/spec/containers/0/image': got number, want null or string" in checked.stdout


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (("--set", "worker.replicas=three"), "at '/worker/replicas': got string, want integer"),
        (("--set-string", "api.replicas=2"), "at '/api/replicas': got string, want integer"),
        (("--set", "worker.autoscaling.maxReplicas=1.5"), "at '/worker/autoscaling/maxReplicas'"),
        (("--set", "worker.replica=2"), "at '/worker': additional properties 'replica' not allowed"),
        (("--set", "api.replicas=-1"), "at '/api/replicas': minimum: got -1, want 0"),
        (("--set", "email.smtp.tls=ssl"), "at '/email/smtp/tls'"),
        (("--set", "existingSecret="), "at '/existingSecret'"),
    ],
)
def test_a_wrong_value_is_refused_naming_it(helm: Path, setting: tuple[str, str], message: str) -> None:
    for command in (("template", "t"), ("lint",)):
        done = run_helm(helm, *command, str(CHART), *setting)
        assert done.returncode != 0, f"{command} accepted {setting}"
        assert message in done.stdout + done.stderr, done.stdout + done.stderr


def test_more_workers_at_least_than_at_most_is_refused(helm: Path) -> None:
    # a JSON schema cannot compare two values, so the template does; `helm lint` only reports a
    # template's `fail` as [INFO], `helm template` and `helm install` stop on it
    setting = ("--set", "worker.autoscaling.minReplicas=12")
    done = run_helm(helm, "template", "t", str(CHART), *setting)
    assert done.returncode != 0
    assert "worker.autoscaling: minReplicas (12) is more than maxReplicas (10)" in done.stderr


def test_api_probes_and_command(render: Render) -> None:
    api = container(find(render(), "Deployment", "api"))
    assert api["args"][:2] == ["tidings", "api"]
    assert api["livenessProbe"]["httpGet"] == {"path": "/-/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    assert api["ports"] == [{"name": "http", "containerPort": 8000}]


def test_migrations_run_as_a_hook_before_install_and_upgrade(render: Render) -> None:
    job = find(render(), "Job", "migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(job)["args"] == ["tidings", "migrate"]
    # hooks run before the chart's other resources exist: the Job may not mount the ConfigMap
    assert [v["name"] for v in job["spec"]["template"]["spec"]["volumes"]] == ["tmp"]
    hooks = [m["kind"] for m in render() if "helm.sh/hook" in (m["metadata"].get("annotations") or {})]
    assert hooks == ["Job"]


def test_workers_scale_on_cpu_or_by_a_fixed_count(render: Render) -> None:
    autoscaled = render()
    hpa = find(autoscaled, "HorizontalPodAutoscaler", "worker")
    worker = find(autoscaled, "Deployment", "worker")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": worker["metadata"]["name"],
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in worker["spec"]  # the autoscaler owns the count
    fixed = render("--set", "worker.autoscaling.enabled=false", "--set", "worker.replicas=4")
    assert find(fixed, "Deployment", "worker")["spec"]["replicas"] == 4
    assert not [m for m in fixed if m["kind"] == "HorizontalPodAutoscaler"]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_secrets_are_only_referenced(render: Render, values: str) -> None:
    manifests = render(*VALUE_SETS[values])
    assert not [m for m in manifests if m["kind"] == "Secret"]
    for component, kind in (("api", "Deployment"), ("worker", "Deployment"), ("migrate", "Job")):
        for variable in container(find(manifests, kind, component))["env"]:
            if variable["name"] in SECRET_VARIABLES:
                assert set(variable) == {"name", "valueFrom"}, variable
                assert set(variable["valueFrom"]["secretKeyRef"]) == {"name", "key"}


def test_every_pod_runs_unprivileged_on_a_read_only_root(render: Render) -> None:
    for manifest in render():
        if manifest["kind"] not in ("Deployment", "Job"):
            continue
        pod = manifest["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        security = container(manifest)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        mounts = {m["mountPath"] for m in container(manifest)["volumeMounts"]}
        assert "/tmp" in mounts  # the one writable place, an emptyDir


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_configmap_is_a_configuration_tidings_accepts(render: Render, values: str) -> None:
    manifests = render(*VALUE_SETS[values])
    configmap = next(m for m in manifests if m["kind"] == "ConfigMap")
    text = configmap["data"]["configuration.json"]
    source = EVERYTHING if values == "everything" else CHART / "values.yaml"
    expected = yaml.safe_load(source.read_text())["configuration"]
    assert json.loads(text) == expected
    # Tidings' own decoder: a wrong key would raise, naming it
    assert load_service_config(text).active_channels == expected["activeChannels"]
    api = container(find(manifests, "Deployment", "api"))
    path = next(v["value"] for v in api["env"] if v["name"] == "CONFIGURATION_PATH")
    mount = next(m for m in api["volumeMounts"] if m["name"] == "configuration")
    assert path == f"{mount['mountPath']}/configuration.json"
