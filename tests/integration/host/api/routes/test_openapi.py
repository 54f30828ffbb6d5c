"""The OpenAPI document: the API-key scheme, each operation's scope and errors, examples; and a client
generated from the served document (openapi-python-client) that creates a template, sends with it and
reads the dispatch back, against a live service with API keys on."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar

from host.access.api_keys import ApiKeys
from host.api.app import create_app
from host.api.openapi import CONFLICTS, SCHEME, UNSUPPORTED_MEDIA
from host.api.openapi_callbacks import TOO_LARGE
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.configs import BASE_CONFIG
from tests.support.stacks import Stack, open_stack

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
OPEN_OPERATIONS = {
    ("get", "/-/healthz"),
    ("get", "/-/ready"),
    ("post", "/twilio/status"),
    ("post", "/feedback/ses"),
    ("post", "/feedback/sendgrid"),
    ("post", "/feedback/mailgun"),
}
#: the client generator's settings: no formatting run after it (ruff need not be on the PATH), and the
#: NDJSON body of /users/bulk sent as bytes (the generator knows no NDJSON; the README says so)
GENERATOR_CONFIG = """\
post_hooks: []
package_name_override: tidings_client
content_type_overrides:
  application/x-ndjson: application/octet-stream
"""


def scoped_operations(app: Litestar) -> dict[tuple[str, str], str]:
    """(method, path as the document writes it) -> scope, by the rule the README states: the route's
    ``opt`` scope, else ``read`` for GET and ``manage`` for the rest (tests/api/test_auth.py checks that
    the service enforces exactly this)."""
    found = {}
    for route in app.routes:
        if route.path == "/" or route.path.startswith(("/-", "/metrics", "/schema", "/console")):
            continue
        for handler in getattr(route, "route_handlers", ()):
            if handler.opt.get("public") or not handler.include_in_schema:
                continue
            for method in set(handler.http_methods) - {"OPTIONS", "HEAD"}:
                scope = handler.opt.get("scope") or ("read" if method == "GET" else "manage")
                found[(method.lower(), route.path_format)] = scope
    return found


async def served_document(stack: Stack) -> dict[str, Any]:
    response = await stack.client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


async def test_the_document_declares_the_api_key_scheme_and_each_operations_scope(stack: Stack) -> None:
    document = await served_document(stack)
    scheme = document["components"]["securitySchemes"][SCHEME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    declared = {(method, path): op for method, path, op in operations(document)}
    checked = scoped_operations(stack.client.app)
    assert len(checked) >= 20
    for key, scope in checked.items():
        operation = declared[key]
        assert operation["security"] == [{SCHEME: []}], key
        assert operation["x-tidings-scope"] == scope, key
        assert operation["description"].startswith(f"**Scope:** `{scope}`"), key
        assert {"401", "403"} <= set(operation["responses"]), key
    assert set(declared) - set(checked) == OPEN_OPERATIONS
    for key in OPEN_OPERATIONS:
        assert declared[key]["security"] == [] and "x-tidings-scope" not in declared[key]
        assert "401" not in declared[key]["responses"]


async def test_every_error_response_is_in_the_error_shape(stack: Stack) -> None:
    document = await served_document(stack)
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["statusCode", "error", "message"]
    seen: set[str] = set()
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if int(status) < 400 or (path == "/-/ready" and status == "503"):
                continue  # the readiness probe answers 503 with what it checked
            media = answer["content"]["application/json"]
            assert media["schema"] == ERROR_REF, (method, path, status)
            assert media["example"]["statusCode"] == status
            seen.add(status)
        if path != "/-/healthz" and path != "/-/ready":
            assert "503" in operation["responses"], (method, path)  # a database outage
    assert seen == {"400", "401", "403", "404", "409", "413", "415", "503"}
    declared = {(method, path): op["responses"] for method, path, op in operations(document)}
    for table, status in ((CONFLICTS, "409"), (TOO_LARGE, "413"), (UNSUPPORTED_MEDIA, "415")):
        for key in table:
            assert status in declared[key], key  # the table names a real operation
    assert "401" in declared[("post", "/send")]
    assert declared[("get", "/-/healthz")].keys() == {"200"}


async def test_send_and_saga_send_carry_examples_and_their_bodies(stack: Stack) -> None:
    paths = (await served_document(stack))["paths"]
    send = paths["/send"]["post"]["requestBody"]["content"]["application/json"]
    assert {"text", "template", "scheduled"} <= set(send["examples"])
    saga = paths["/saga/send"]["post"]["requestBody"]["content"]["application/json"]
    assert saga["schema"] == {"$ref": "#/components/schemas/FlowManagerCommand"}
    command = saga["examples"]["command"]["value"]
    # the example really is a command the service takes
    accepted = await stack.client.post("/saga/send", json=command)
    assert accepted.status_code == 200, accepted.text
    headers = {p["name"] for p in paths["/send"]["post"]["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key"}


@contextmanager
def serve(app: Litestar) -> Iterator[str]:
    """The app on uvicorn on a free loopback port, in a thread of its own."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="openapi-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
async def keyed_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
) -> AsyncIterator[Stack]:
    async with open_stack(
        tmp_path_factory.mktemp("openapi-stack"),
        devdb,
        redis_server,
        smtp_sink,
        BASE_CONFIG,
        database="tidings_openapi",
        redis_db=12,
        session_stack=stack,
        TIDINGS_API_AUTH="on",
    ) as opened:
        yield opened


def generate_client(document: bytes, folder: Path) -> ModuleType:
    """openapi-python-client on the document, as a user of Tidings would run it; the package, imported."""
    spec, config = folder / "openapi.json", folder / "generator.yaml"
    spec.write_bytes(document)
    config.write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--config", str(config), "--meta", "none"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("tidings_client")
    finally:
        sys.path.remove(str(folder))


def submodule(name: str) -> Any:
    return importlib.import_module(f"tidings_client.{name}")


async def send_with_a_template(package: ModuleType, url: str, key: str, user: str, name: str) -> None:
    """What a user of the generated client writes: create a template, send with it, read the dispatch."""
    models = submodule("models")
    create_template = submodule("api.templates.create_template")
    send = submodule("api.send.send")
    get_dispatch = submodule("api.dispatches.get_dispatch")
    async with package.AuthenticatedClient(base_url=url, token=key) as client:
        body = models.TemplateBody(
            name=name, email_title="Hello {{ user.name }}", email_message="Your code is {{ data.code }}."
        )
        template = await create_template.asyncio(client=client, body=body)
        assert isinstance(template, models.TemplateView), template
        request = models.SendRequest(
            channels=["email"],
            recipients=[user],
            template_id=template.id,
            data=models.SendRequestData.from_dict({"code": "4242"}),
        )
        accepted = await send.asyncio(client=client, body=request)
        assert isinstance(accepted, models.SendAccepted), accepted
        assert accepted.failures == []
        deadline = time.monotonic() + 20
        view = await get_dispatch.asyncio(client=client, dispatch_id=accepted.dispatch_id)
        while not view.settled and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            view = await get_dispatch.asyncio(client=client, dispatch_id=accepted.dispatch_id)
        assert view.template_id == template.id
        assert view.counts["email"].to_dict() == {"sent": 1}


async def refused_answers(package: ModuleType, url: str, reader: str) -> tuple[Any, Any]:
    """/send without a key and with a read-only one: the errors the document declares, parsed."""
    models = submodule("models")
    send = submodule("api.send.send")
    request = models.SendRequest(
        channels=["email"], recipients=["nobody"], message_title="t", message_content="c"
    )
    async with package.Client(base_url=url) as anonymous:
        missing = await send.asyncio_detailed(client=anonymous, body=request)
    async with package.AuthenticatedClient(base_url=url, token=reader) as weak:
        lacking = await send.asyncio_detailed(client=weak, body=request)
    return missing, lacking


async def test_a_client_generated_from_the_served_document_sends_with_a_template(
    keyed_stack: Stack, tmp_path: Path, unique: Any
) -> None:
    user = unique("openapi-user")
    await keyed_stack.add_users({"fiscalCode": user, "mail": f"{user}@example.com", "name": "Ada"})
    keys = ApiKeys(keyed_stack.db)
    key = (await keys.create("generated-client", ("send", "read", "manage"), created_by="tests")).key
    reader = (await keys.create("reader", ("read",), created_by="tests")).key
    with serve(create_app(keyed_stack.actors)) as url:
        async with httpx.AsyncClient() as http:
            document = (await http.get(f"{url}/schema/openapi.json")).content
        package = generate_client(document, tmp_path)
        try:
            await send_with_a_template(package, url, key, user, unique("openapi-template"))
            missing, lacking = await refused_answers(package, url, reader)
        finally:
            for name in [m for m in sys.modules if m == "tidings_client" or m.startswith("tidings_client.")]:
                del sys.modules[name]
    mail = keyed_stack.mails_to(f"{user}@example.com")
    assert len(mail) == 1
    assert mail[0].message["Subject"] == "Hello Ada"
    assert "Your code is 4242." in mail[0].message.get_body(("plain",)).get_content()
    assert missing.status_code == 401
    assert type(missing.parsed).__name__ == "ErrorBody"
    assert missing.parsed.message.startswith("missing API key")
    assert lacking.status_code == 403
    assert lacking.parsed.message == "this API key lacks the 'send' scope"
