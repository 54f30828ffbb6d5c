"""API keys: every API route wants a key with its scope; keys are stored hashed; revoking; the off switch."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from twilio.request_validator import RequestValidator

from host.access.api_keys import API_KEYS_COLLECTION, SCOPES, ApiKeys
from host.access.unsubscribe_links import UnsubscribeLinks
from host.api.app import create_app
from host.api.auth import AUTH_ENV
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.commands import CommandCounter, counted_client
from tests.support.configs import BASE_CONFIG
from tests.support.events import CALLBACK_URL, PUBLIC_URL
from tests.support.stacks import Stack, open_stack

_PARAM = re.compile(r"\{(\w+)(:\w+)?\}")
#: served without a key by design: probes, metrics, the OpenAPI document, the home page, the console
_OPEN = ("/-/", "/metrics", "/schema", "/console")
UNKNOWN_KEY = "tdk_00000000_" + "A" * 43
TWILIO_TOKEN = "twilio-token-of-the-auth-stack"
SEND_BODY = {"channels": ["email"], "recipients": ["nobody"], "messageTitle": "t", "messageContent": "c"}


@pytest.fixture(scope="module")
async def auth_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
) -> AsyncIterator[Stack]:
    """A stack with key checks on (the session stack runs with them off)."""
    async with open_stack(
        tmp_path_factory.mktemp("auth-stack"),
        devdb,
        redis_server,
        smtp_sink,
        BASE_CONFIG,
        database="tidings_auth",
        redis_db=9,
        session_stack=stack,
        TIDINGS_API_AUTH="on",
        # the public routes' own checks: Twilio's signature, the unsubscribe links' public base
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TIDINGS_PUBLIC_URL=PUBLIC_URL,
    ) as opened:
        yield opened


async def new_key(stack: Stack, *scopes: str, name: str = "test") -> str:
    made = await ApiKeys(stack.db).create(name, scopes, created_by="tests")
    return made.key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _example(param: re.Match[str]) -> str:
    return "1" if param.group(2) in (":int", ":float") else f"x-{param.group(1)}"


def api_routes(app: Litestar) -> list[tuple[str, str, str]]:
    """(method, concrete path, scope) of every API route in the app's route table.

    The scope is what the route declares (``opt={"scope": ...}``) or else what its method implies:
    ``read`` for GET, ``manage`` for the rest. Routes declaring themselves public are left out.
    """
    routes = []
    for route in app.routes:
        if route.path == "/" or route.path.startswith(_OPEN) or route.path in ("/metrics", "/schema"):
            continue
        for handler in getattr(route, "route_handlers", ()):
            if handler.opt.get("public"):
                continue
            for method in sorted(set(handler.http_methods) - {"OPTIONS", "HEAD"}):
                scope = handler.opt.get("scope") or ("read" if method == "GET" else "manage")
                routes.append((method, _PARAM.sub(_example, route.path), scope))
    return routes


def assert_error(response: Any, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"}
    assert body["statusCode"] == str(status)
    assert message in body["message"], body["message"]


async def test_every_api_route_needs_a_key_with_its_scope(auth_stack: Stack) -> None:
    routes = api_routes(auth_stack.client.app)
    assert len(routes) >= 20, routes  # the table really was read
    scopes_seen = {scope for _, _, scope in routes}
    assert scopes_seen == set(SCOPES)
    others = {scope: await new_key(auth_stack, *(set(SCOPES) - {scope})) for scope in SCOPES}
    for method, path, scope in routes:
        missing = await auth_stack.client.request(method, path)
        assert_error(missing, 401, "missing API key")
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in (UNKNOWN_KEY, "not-a-key", others[scope][:-1] + "x"):
            assert_error(await auth_stack.client.request(method, path, headers=bearer(wrong)), 401, "invalid")
        refused = await auth_stack.client.request(method, path, headers=bearer(others[scope]))
        assert_error(refused, 403, f"lacks the {scope!r} scope")


async def test_the_scopes_of_the_compatible_core_and_the_resources(auth_stack: Stack) -> None:
    by_route = {(method, path): scope for method, path, scope in api_routes(auth_stack.client.app)}
    assert by_route[("POST", "/send")] == "send"
    assert by_route[("POST", "/saga/send")] == "send"
    assert by_route[("GET", "/dispatches/x-dispatch_id")] == "read"
    for resource in ("templates", "clusters", "users"):
        assert by_route[("GET", f"/{resource}")] == "read"
    assert by_route[("POST", "/templates")] == "manage"
    assert by_route[("POST", "/clusters")] == "manage"
    assert by_route[("POST", "/users/bulk")] == "manage"
    assert by_route[("DELETE", "/users/x-user_id")] == "manage"


async def test_the_right_scope_passes(auth_stack: Stack, unique: Callable[[str], str]) -> None:
    sender, reader, manager = [await new_key(auth_stack, scope) for scope in ("send", "read", "manage")]
    sent = await auth_stack.client.post("/send", json=SEND_BODY, headers=bearer(sender))
    assert sent.status_code == 200, sent.text
    dispatch_id = sent.json()["dispatchId"]
    status = await auth_stack.client.get(f"/dispatches/{dispatch_id}", headers=bearer(reader))
    assert status.status_code == 200, status.text
    name = unique("cluster")
    created = await auth_stack.client.post("/clusters", json={"name": name}, headers=bearer(manager))
    assert created.status_code == 201, created.text
    listed = await auth_stack.client.get("/clusters", headers=bearer(reader))
    assert name in listed.text
    scheme_in_lower_case = await auth_stack.client.get(
        "/clusters", headers={"authorization": f"bearer {reader}"}
    )
    assert scheme_in_lower_case.status_code == 200


async def test_probes_metrics_schema_and_console_need_no_key(auth_stack: Stack) -> None:
    for path in ("/-/healthz", "/-/ready", "/metrics", "/schema/openapi.json", "/"):
        answer = await auth_stack.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
    console = await auth_stack.client.get("/console/templates", follow_redirects=False)
    assert console.status_code == 303  # its own login, not an API key


async def test_the_public_routes_answer_without_a_key_when_keys_are_on(
    auth_stack: Stack, unique: Callable[[str], str]
) -> None:
    """The unsubscribe pages, Twilio's callback and the probes: each with its own check or none, and
    never the 401 of a missing key."""
    for probe in ("/-/ready", "/-/healthz"):
        assert (await auth_stack.client.get(probe)).status_code == 200, probe

    uid = unique("public")
    await auth_stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org"})
    links = UnsubscribeLinks.from_settings(auth_stack.settings)
    assert links is not None
    path = f"/unsubscribe/{links.token(uid, 'email')}"
    page = await auth_stack.client.get(path)
    assert page.status_code == 200 and "<form" in page.text, page.text
    done = await auth_stack.client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "unsubscribed" in done.text, done.text
    manager = await new_key(auth_stack, "manage")  # opt-outs are read with the manage scope
    opt_outs = await auth_stack.client.get(f"/users/{uid}/opt-outs", headers=bearer(manager))
    assert opt_outs.status_code == 200, opt_outs.text
    assert [item["channel"] for item in opt_outs.json()["items"]] == ["email"]
    tampered = await auth_stack.client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
    assert tampered.status_code == 400  # the link's own check, not a key check

    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"}  # not final: nothing to record
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(CALLBACK_URL, form)
    signed = await auth_stack.client.post(
        "/twilio/status", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert signed.status_code == 204, signed.text
    unsigned = await auth_stack.client.post("/twilio/status", data=form)
    assert_error(unsigned, 403, "X-Twilio-Signature")  # Twilio's check, not a key check


async def test_keys_are_stored_only_as_a_hash(auth_stack: Stack) -> None:
    made = await ApiKeys(auth_stack.db).create("billing", ["read", "send"], created_by="tests")
    prefix, _, secret = made.key[: len("tdk_") + 8], "_", made.key[len("tdk_") + 9 :]
    assert made.key == f"{prefix}_{secret}" and len(secret) == 43
    doc = await auth_stack.db[API_KEYS_COLLECTION].find_one({"prefix": prefix})
    assert doc is not None
    stored = repr(doc)
    assert made.key not in stored and secret not in stored
    assert all(secret not in str(value) for value in doc.values())
    assert doc["key_hash"] == hashlib.sha256(made.key.encode()).hexdigest()
    assert doc["scopes"] == ["send", "read"] and doc["name"] == "billing" and doc["revoked_at"] is None
    assert doc["created_by"] == "tests" and doc["last_used_at"] is None
    await auth_stack.client.get("/templates", headers=bearer(made.key))
    used = await auth_stack.db[API_KEYS_COLLECTION].find_one({"prefix": prefix})
    assert used is not None and used["last_used_at"] is not None


async def test_a_revoked_key_stops_working_and_reads_like_an_unknown_one(auth_stack: Stack) -> None:
    made = await ApiKeys(auth_stack.db).create("leaving", ["read"], created_by="tests")
    assert (await auth_stack.client.get("/templates", headers=bearer(made.key))).status_code == 200
    revoked = await ApiKeys(auth_stack.db).revoke(made.record.prefix)
    assert revoked.revoked_at is not None
    after = await auth_stack.client.get("/templates", headers=bearer(made.key))
    unknown = await auth_stack.client.get("/templates", headers=bearer(UNKNOWN_KEY))
    assert_error(after, 401, "invalid API key")
    assert after.json() == unknown.json()


async def test_a_key_changed_in_the_database_is_checked_as_it_now_reads(auth_stack: Stack) -> None:
    keys = ApiKeys(auth_stack.db)
    made = await keys.create("changing", ["send"], created_by="tests")
    first = await keys.verify(made.key)
    again = await keys.verify(made.key)
    assert first is not None and first.scopes == ["send"]
    assert again is first  # read again unchanged: its record is not validated again
    # changed behind this process's back (another API process, the CLI): the next check sees it
    await auth_stack.db[API_KEYS_COLLECTION].update_one(
        {"prefix": made.record.prefix}, {"$set": {"scopes": ["read"], "name": "renamed"}}
    )
    changed = await keys.verify(made.key)
    assert changed is not None and changed.scopes == ["read"] and changed.name == "renamed"
    await keys.revoke(made.record.prefix)
    assert await keys.verify(made.key) is None


async def test_an_idempotency_key_replays_nothing_to_a_caller_without_a_key(
    auth_stack: Stack, unique: Callable[[str], str]
) -> None:
    sender = await new_key(auth_stack, "send")
    headers = {"Idempotency-Key": unique("idem")}
    first = await auth_stack.client.post("/send", json=SEND_BODY, headers={**headers, **bearer(sender)})
    assert first.status_code == 200, first.text
    replay = await auth_stack.client.post("/send", json=SEND_BODY, headers=headers)
    assert_error(replay, 401, "missing API key")
    assert first.json()["dispatchId"] not in replay.text


async def test_an_idempotency_key_belongs_to_the_api_key_that_used_it(
    auth_stack: Stack, unique: Callable[[str], str]
) -> None:
    first_client, second_client, third_client = [await new_key(auth_stack, "send") for _ in range(3)]
    headers = {"Idempotency-Key": unique("shared")}
    first = await auth_stack.client.post("/send", json=SEND_BODY, headers={**headers, **bearer(first_client)})
    assert first.status_code == 200, first.text
    same = await auth_stack.client.post("/send", json=SEND_BODY, headers={**headers, **bearer(second_client)})
    assert same.status_code == 200 and "idempotent-replayed" not in same.headers, same.text
    assert same.json()["dispatchId"] != first.json()["dispatchId"]  # its own request, run
    other = {**SEND_BODY, "messageTitle": "another body"}
    different = await auth_stack.client.post("/send", json=other, headers={**headers, **bearer(third_client)})
    assert different.status_code == 200, different.text  # no 409: the first client's body is not its business
    again = await auth_stack.client.post("/send", json=SEND_BODY, headers={**headers, **bearer(first_client)})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    conflict = await auth_stack.client.post("/send", json=other, headers={**headers, **bearer(first_client)})
    assert_error(conflict, 409, "another request body")


async def test_concurrent_key_checks_are_read_together_and_each_gets_its_own_answer(
    auth_stack: Stack,
) -> None:
    keys = ApiKeys(auth_stack.db)
    sender, reader, leaving = [await keys.create(n, [s], created_by="tests") for n, s in
                               (("a", "send"), ("b", "read"), ("c", "read"))]  # fmt: skip
    await keys.revoke(leaving.record.prefix)
    listener = CommandCounter("find", API_KEYS_COLLECTION)
    env = auth_stack.settings.env
    async with counted_client(env.mongodb_url, listener) as client:
        checked = ApiKeys(client[env.mongodb_database])
        asked = [sender.key, reader.key, leaving.key, UNKNOWN_KEY, sender.key[:-1] + "x"] * 6
        records = await asyncio.gather(*(checked.verify(key) for key in asked))
    names = [record.name if record is not None else None for record in records]
    assert names == ["a", "b", None, None, None] * 6
    # 30 checks, one read: each check's read starts after it was asked (a revoked key fails at once)
    assert listener.sent == 1


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_the_off_switch_opens_the_api_and_logs_a_warning(stack: Stack) -> None:
    assert stack.settings.environ[AUTH_ENV] == "off"
    app = create_app(stack.actors)  # Litestar configures logging here (root handlers, so not caplog)
    collect = _Collect()
    logger = logging.getLogger("host.api.auth")
    logger.addHandler(collect)
    try:
        async with AsyncTestClient(app) as client:
            assert (await client.get("/templates")).status_code == 200
    finally:
        logger.removeHandler(collect)
    assert len(collect.records) == 1 and "OFF" in collect.records[0].getMessage()
