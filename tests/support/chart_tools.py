"""helm, kubeconform, Kubernetes and Compose schemas for the chart tests: from the Go module proxy, cached.

``python -m tests.support.chart_tools`` (run by ``scripts/test``) makes sure they are all there, prints where;
the tests call the same functions. Everything lives under ``<cache>/tools`` (``~/.cache/tidings/tools``
or ``$TIDINGS_CACHE_DIR/tools``): binaries named after their pinned version, so a second run finds them
at once and a new pin builds anew. Go's own module and build caches are used in a scratch folder there
and removed afterwards (they take over a gigabyte for helm; the binaries are what is kept).

The Go on the machine builds them when it is recent enough; an older Go (Debian 12's 1.19) first fetches
the toolchain the tools need, which the Go module proxy serves as the module ``golang.org/toolchain``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from host.storage.devdb import cache_dir
from tests.support.kubernetes_schemas import convert

__all__ = [
    "HELM",
    "KUBECONFORM",
    "KUBERNETES_VERSIONS",
    "ToolError",
    "compose_schema",
    "ensure_all",
    "helm",
    "kubeconform",
    "kubernetes_schemas",
    "tools_dir",
]

#: (binary, package, pinned version, linker flags: stripped, and helm told its versions as its release is)
_HELM_FLAGS = " ".join(
    f"-X helm.sh/helm/v3/{variable}"
    for variable in (
        "internal/version.version=v3.22.0",
        # the Kubernetes version `helm template` and `helm lint` assume, set as helm's Makefile does
        # from its client-go (v0.37: Kubernetes 1.37)
        "pkg/chartutil.k8sVersionMajor=1",
        "pkg/chartutil.k8sVersionMinor=37",
        "pkg/lint/rules.k8sVersionMajor=1",
        "pkg/lint/rules.k8sVersionMinor=37",
    )
)
HELM = ("helm", "helm.sh/helm/v3/cmd/helm", "v3.22.0", _HELM_FLAGS)
KUBECONFORM = ("kubeconform", "github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0", "")
#: the oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and a recent one
KUBERNETES_VERSIONS = ("1.29.0", "1.35.0")
#: the Compose Specification's JSON schema ships in compose-go, the library docker compose reads files with
COMPOSE_GO = "v2.16.2"
#: the Go that builds both (their go.mod asks for 1.26), fetched when the machine's is older
GO_TOOLCHAIN = "1.26.8"


class ToolError(RuntimeError):
    """A tool could not be built or fetched; the message says which and why."""


def tools_dir() -> Path:
    """Where the tools are kept: ``<cache>/tools``."""
    return cache_dir() / "tools"


def _go_version(go: str) -> tuple[int, ...]:
    found = re.search(r"go(\d+)\.(\d+)(?:\.(\d+))?", subprocess.check_output([go, "version"], text=True))
    return tuple(int(part or 0) for part in found.groups()) if found else (0,)


def _scratch_env(scratch: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GOPATH": str(scratch / "path"),
        "GOMODCACHE": str(scratch / "mod"),
        "GOCACHE": str(scratch / "build"),
        "GOFLAGS": "-modcacherw -buildvcs=false",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }


def _go(scratch: Path) -> str:
    """A ``go`` command recent enough for the pinned tools, fetching the toolchain module if needed."""
    system = shutil.which("go")
    if system is None:
        raise ToolError("`go` is not installed (Debian: apt-get install golang-go)")
    wanted = tuple(int(part) for part in GO_TOOLCHAIN.split("."))
    if _go_version(system) >= wanted:
        return system
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    module = f"golang.org/toolchain@v0.0.1-go{GO_TOOLCHAIN}.linux-{arch}"
    kept = tools_dir() / f"go-{GO_TOOLCHAIN}"
    if not (kept / "bin" / "go").exists():
        info = _download(system, module, scratch)
        shutil.copytree(info["Dir"], kept, symlinks=True)
        for tool in (kept / "bin").iterdir():
            tool.chmod(0o755)
        for tool in (kept / "pkg" / "tool").glob("*/*"):
            tool.chmod(0o755)
    return str(kept / "bin" / "go")


def _download(go: str, module: str, scratch: Path) -> dict[str, str]:
    done = subprocess.run(
        [go, "mod", "download", "-json", module],
        env=_scratch_env(scratch),
        capture_output=True,
        text=True,
        check=False,
    )
    info: dict[str, str] = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        raise ToolError(f"cannot download {module}: {info.get('Error') or done.stderr}")
    return info


def _scratch() -> Path:
    scratch = tools_dir() / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    return scratch


def _clean(scratch: Path) -> None:
    subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)
    shutil.rmtree(scratch, ignore_errors=True)


def _binary(spec: tuple[str, str, str, str]) -> Path:
    name, package, version, ldflags = spec
    path = tools_dir() / "bin" / f"{name}-{version}"
    if path.exists():
        return path
    scratch = _scratch()
    try:
        go = _go(scratch)
        started = time.monotonic()
        print(f"building {name} {version} with go install (once; kept in {path.parent})", file=sys.stderr)
        env = {**_scratch_env(scratch), "GOBIN": str(scratch / "bin")}
        command = [go, "install", f"-ldflags=-s -w {ldflags}".strip(), f"{package}@{version}"]
        built = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise ToolError(f"go install {package}@{version} failed:\n{built.stderr}")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(scratch / "bin" / name, path)
        print(f"built {name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        _clean(scratch)
    return path


def helm() -> Path:
    """The pinned helm binary."""
    return _binary(HELM)


def kubeconform() -> Path:
    """The pinned kubeconform binary."""
    return _binary(KUBECONFORM)


def kubernetes_schemas(version: str) -> Path:
    """kubeconform schemas of this Kubernetes version, converted from the k8s.io/kubernetes module's spec."""
    target = tools_dir() / "kubernetes-json-schema" / f"v{version}-standalone-strict"
    if (target / ".complete").exists():
        return target
    scratch = _scratch()
    try:
        go = _go(scratch)
        info = _download(go, f"k8s.io/kubernetes@v{version}", scratch)
        shutil.rmtree(target, ignore_errors=True)
        count = convert(Path(info["Dir"]) / "api" / "openapi-spec" / "swagger.json", target)
        (target / ".complete").write_text(f"{count} kinds from k8s.io/kubernetes@v{version}\n")
    finally:
        _clean(scratch)
    return target


def compose_schema() -> Path:
    """The Compose Specification's JSON schema, from the compose-go module."""
    target = tools_dir() / f"compose-spec-{COMPOSE_GO}.json"
    if target.exists():
        return target
    scratch = _scratch()
    try:
        info = _download(_go(scratch), f"github.com/compose-spec/compose-go/v2@{COMPOSE_GO}", scratch)
        shutil.copyfile(Path(info["Dir"]) / "schema" / "compose-spec.json", target)
    finally:
        _clean(scratch)
    return target


def ensure_all() -> None:
    """Build or find every tool the chart tests use; one line each."""
    schemas = [kubernetes_schemas(version) for version in KUBERNETES_VERSIONS]
    for path in (helm(), kubeconform(), *schemas, compose_schema()):
        print(f"chart tools: {path}", file=sys.stderr)


if __name__ == "__main__":
    try:
        ensure_all()
    except ToolError as exc:
        print(f"tests.support.chart_tools: {exc}", file=sys.stderr)
        sys.exit(1)
