"""The house, checked: imports point one way, rooms import what their docstring says, the worker has no HTTP.

The import graph is read with ``ast`` from the source (lazy imports inside functions included), so a
cycle or a wrong-way import fails here before it confuses anyone.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.push import b64url

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("host", "channels", "admin_ui")
#: "May import: host.errors, host.settings." in a room's docstring (the list may wrap)
_MAY_IMPORT = re.compile(r"^May import: (?P<rooms>.*?)\.(?:\n|$)", re.M | re.S)


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imported_names(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _resolve(name: str) -> str | None:
    """The project module an imported name belongs to (``host.x.y.Name`` → ``host.x.y``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (not its own package's ancestors)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = {_resolve(name) for name in _imported_names(path)}
        graph[module] = {
            t for t in targets if t is not None and t != module and not module.startswith(t + ".")
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    # raised for the walk only: left raised, it let later tests' msgspec decode JSON nested 1,000 deep
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in graph:
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    # the check below could not fail if this did not
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def room_of(module: str) -> str:
    """``host.delivery.worker`` → ``host.delivery``; a top-level module of host is its own room."""
    parts = module.split(".")
    if parts[0] != "host" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def _rules() -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        if path.name != "__init__.py" or room_of(module) != module:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        match = _MAY_IMPORT.search(docstring)
        if match:
            rules[module] = [" ".join(room.split()) for room in match.group("rooms").split(",")]
    return rules


RULES = _rules()
#: rooms without a rule: the version module, the error tree, the shim of the old protocol module
FREE = {"host", "host.errors", "host.channel"}


def test_every_room_says_what_it_may_import() -> None:
    rooms = {room_of(module) for module in MODULES} - FREE
    assert sorted(rooms - set(RULES)) == []


@pytest.mark.parametrize("room", sorted(RULES))
def test_a_room_imports_only_what_its_docstring_allows(room: str) -> None:
    allowed = RULES[room]
    if allowed == ["host (any room)"]:
        return
    wrong = []
    for module, targets in import_graph().items():
        if room_of(module) != room:
            continue
        for target in targets:
            if room_of(target) in (room, "host", "host.errors"):
                continue
            if not any(target == rule or target.startswith(rule + ".") for rule in allowed):
                wrong.append(f"{module} imports {target}")
    assert wrong == [], f"{room} may import only {allowed}"


def _imports_of(module: str) -> set[str]:
    return set(_imported_names(MODULES[module]))


def test_only_the_http_edge_imports_litestar_or_the_api() -> None:
    offenders = []
    for module in MODULES:
        if not module.startswith("host.") or room_of(module) in ("host.api", "host.cli"):
            continue
        for name in _imports_of(module):
            if name.split(".")[0] == "litestar" or name == "host.api" or name.startswith("host.api."):
                offenders.append(f"{module} imports {name}")
    assert offenders == []


def test_only_the_settings_read_the_environment() -> None:
    readers = [
        f"{module}:{node.lineno}"
        for module, path in MODULES.items()
        if not module.startswith("host.settings")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr in ("environ", "getenv")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ]
    assert readers == []


def test_the_host_never_imports_the_console() -> None:
    offenders = [
        f"{module} imports {name}"
        for module in MODULES
        if module.startswith("host")
        for name in _imports_of(module)
        if name.split(".")[0] == "admin_ui"
    ]
    assert offenders == []


def _reads_through(path: Path, attribute: str) -> list[int]:
    """Lines reading something *through* ``x.<attribute>``: ``runtime.store.users`` for ``store``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == attribute
    ]


def test_handlers_call_services_not_collections() -> None:
    """No ``runtime.store`` in the API's routes or the console's pages (the console's wiring excepted)."""
    reads = {
        module: _reads_through(path, "store")
        for module, path in MODULES.items()
        if module.startswith(("host.api", "admin_ui")) and module != "admin_ui.plugin"
    }
    assert {module: lines for module, lines in reads.items() if lines} == {}


#: the house's soft cap is about 300 lines a module (STYLE.md); this is where "about" ends
MAX_MODULE_LINES = 320
MAX_ROOM_MODULES = 12


def test_modules_and_rooms_stay_small() -> None:
    long = {
        module: count
        for module, path in MODULES.items()
        if module.startswith("host") and (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
    crowded = {}
    for folder in {path.parent for path in MODULES.values() if "host" in path.parts}:
        count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        if count > MAX_ROOM_MODULES:
            crowded[str(folder.relative_to(ROOT))] = count
    assert crowded == {}


def test_a_worker_process_never_loads_litestar(tmp_path: Path) -> None:
    """Import the worker app in a fresh interpreter, build its Runtime and delivery worker: no Litestar."""
    config = tmp_path / "configuration.json"
    config.write_text(
        json.dumps(
            {
                "activeChannels": ["email", "sms", "voice", "push"],
                "sender": {"email": "a@tidings.test", "sms": "+15005550006", "voice": "+15005550006"},
                "webhooks": [{"url": "http://127.0.0.1:9/hook"}],
            }
        )
    )
    environ = {
        **os.environ,
        "CONFIGURATION_PATH": str(config),
        "MONGODB_URL": "mongodb://127.0.0.1:9",  # never reached: nothing here talks to it
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "TIDINGS_SECRET_KEY": "a-secret-key-of-enough-length",
        "TIDINGS_WEBHOOK_SECRET": "another-secret",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "VAPID_PRIVATE_KEY": b64url(
            ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
        ),
        "VAPID_SUBJECT": "mailto:ops@tidings.test",
    }
    script = (
        "import sys\n"
        "from host.runtime import worker_app\n"
        "runtime = worker_app.actors.new_runtime()\n"
        "runtime.delivery\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'litestar', 'admin_ui'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
