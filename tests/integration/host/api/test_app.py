"""Schemathesis against the OpenAPI document: no 5xx, and every error body in the Mia error shape.

A bounded run (every operation, a few examples each) against a live uvicorn on loopback serving a stack
with API key checks on (a key holding every scope goes with each case, so the handlers behind the
check are what is fuzzed); ``bench/fuzz_api.py`` runs the long one. The shapes a probe of the running
service found to answer 500 (issue 16) are sent as they were, each expecting a 4xx naming the field.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase

from host.access.api_keys import SCOPES, ApiKeys
from host.api.app import create_app
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer
from tests.support.configs import BASE_CONFIG
from tests.support.live import serve
from tests.support.stacks import Stack, open_stack

EXAMPLES = 15
ERROR_KEYS = {"statusCode", "error", "message"}


@pytest.fixture(scope="module")
async def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory,
    devdb: DevDatabase,
    redis_server: RedisServer,
    smtp_sink: SmtpSink,
    stack: Stack,
) -> AsyncIterator[Stack]:
    """A stack with API key checks on, as a deployment runs (the session stack has them off)."""
    async with open_stack(
        tmp_path_factory.mktemp("fuzz-stack"), devdb, redis_server, smtp_sink, BASE_CONFIG,
        database="tidings_fuzz", redis_db=3, session_stack=stack, TIDINGS_API_AUTH="on",
    ) as opened:  # fmt: skip
        yield opened


@pytest.fixture(scope="module")
async def auth(fuzz_stack: Stack) -> dict[str, str]:
    """The Authorization header of a key holding every scope."""
    made = await ApiKeys(fuzz_stack.db).create("fuzz", SCOPES, created_by="tests")
    return {"Authorization": f"Bearer {made.key}"}


@pytest.fixture(scope="module")
def live_api(fuzz_stack: Stack) -> Iterator[str]:
    """A second application on the stack's actors, served by uvicorn on its own thread."""
    with serve(create_app(fuzz_stack.actors)) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(live_api: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_api}/schema/openapi.json")


def check_answer(case: Any, response: Any) -> None:
    """No server error; an error body has exactly the Mia keys; the status is one the document declares."""
    reproduce = case.as_curl_command()
    assert response.status_code < 500, f"{response.status_code} {response.text[:500]}\n{reproduce}"
    declared = case.operation.definition.raw["responses"]
    assert str(response.status_code) in declared, f"{response.status_code} not declared\n{reproduce}"
    if response.status_code >= 400 and response.request.method != "HEAD":
        body = response.json()
        assert isinstance(body, dict) and set(body) == ERROR_KEYS, f"{body}\n{reproduce}"
        assert body["statusCode"] == str(response.status_code), reproduce


# schemathesis 4.32's strategies draw from the `random` module, which hypothesis 6.170 deprecates
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning"
)
def test_every_operation_answers_without_5xx_and_in_the_error_shape(
    api_schema: Any, auth: dict[str, str]
) -> None:
    # schemathesis' own pytest plugin fails on this pytest ("'Function' object has no attribute
    # '_nodeid'"), so each operation's strategy is run through hypothesis here
    problems: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )
        def run(case: Any) -> None:
            response = case.call(headers=auth, timeout=60)
            statuses[response.status_code] += 1
            check_answer(case, response)

        try:
            run()
        except AssertionError as exc:
            problems[operation.label] = str(exc).splitlines()[0] + " | " + str(exc).splitlines()[-1]
    assert problems == {}
    # the key got the cases past the check: the handlers behind it answered, not only the 401 of the check
    assert statuses[401] == 0 and sum(n for status, n in statuses.items() if status < 300) > 10, statuses


SEND = {"channels": ["email"], "recipients": ["nobody"], "messageTitle": "t", "messageContent": "c"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


#: (what, method, path, content type, raw body, the start of the error message)
PROBED = [
    ("JSON 1,000 deep", "POST", "/send", "application/json",
     json.dumps(SEND)[:-1] + ', "data": {"a": ' + nested(1000) + "}}", "body: "),
    ("JSON 1,000 deep, no Struct", "POST", "/saga/send", "application/json",
     '{"key": "k", "value": ' + nested(1000) + "}", "body: "),
    ("data 100 deep", "POST", "/send", "application/json",
     json.dumps({**SEND, "data": {"a": json.loads(nested(100))}}), "data: "),
    ("3,000 nested subexpressions", "POST", "/templates", "application/json",
     json.dumps({"name": "deep", "syntax": "handlebars",
                 "smsMessage": "{{x " + "(eq " * 3000 + "1" + " 1)" * 3000 + "}}"}), "smsMessage"),
    ("3,000 nested parentheses", "POST", "/templates", "application/json",
     json.dumps({"name": "deep", "smsMessage": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"}),
     "smsMessage: "),
    ("a $-key in a user", "PUT", "/users/u1", "application/json",
     json.dumps({"fiscalCode": "u1", "$where": "1"}), "$where: "),
    ("a $-key deep in a user", "PUT", "/users/u1", "application/json",
     json.dumps({"fiscalCode": "u1", "a": [{"$set": 1}]}), "a[0].$set: "),
    ("a user 100 deep", "PUT", "/users/u1", "application/json",
     json.dumps({"fiscalCode": "u1", "a": json.loads(nested(100))}), "a"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "method", "path", "content_type", "raw", "message"), PROBED)
async def test_the_probed_shapes_answer_400_naming_the_field(
    live_api: str, auth: dict[str, str], what: str, method: str, path: str, content_type: str, raw: str,
    message: str,
) -> None:  # fmt: skip
    async with httpx.AsyncClient(base_url=live_api, timeout=60) as client:
        response = await client.request(
            method, path, content=raw.encode(), headers={**auth, "Content-Type": content_type}
        )
    assert response.status_code == 400, (what, response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == ERROR_KEYS and body["message"].startswith(message), (what, body)


async def test_a_bulk_record_with_a_dollar_key_is_reported_by_its_line(
    live_api: str, auth: dict[str, str]
) -> None:
    """Bulk keeps its contract (the other records go on): the record is refused, naming its line and key."""
    records = [
        {"fiscalCode": "b1", "name": "ok"},
        {"fiscalCode": "b2", "$where": "1"},
        {"fiscalCode": "b3", "a.b": 1},
    ]
    async with httpx.AsyncClient(base_url=live_api, timeout=60) as client:
        response = await client.post("/users/bulk", json=records, headers=auth)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["upserted"] + result["matched"], result["failed"]) == (1, 2)
    assert [(e["line"], e["message"].split(":")[0]) for e in result["errors"]] == [(2, "$where"), (3, "a.b")]
