"""Schemathesis against the OpenAPI document: no 5xx, and every error body in the Mia error shape.

A bounded run (every operation, a few examples each) against a live uvicorn on loopback serving the
session stack's actors; ``bench/fuzz_api.py`` runs the long one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase

from host.api.app import create_app
from tests.services import free_port
from tests.support.stacks import Stack
from tests.support.waiting import eventually_sync

EXAMPLES = 15
ERROR_KEYS = {"statusCode", "error", "message"}


@pytest.fixture(scope="module")
def live_api(stack: Stack) -> Iterator[str]:
    """A second application on the session stack's actors, served by uvicorn on its own thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(stack.actors), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="fuzz-uvicorn", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        return bool(server.started)

    eventually_sync(started, timeout=30, interval=0.02, what="uvicorn serving the fuzzed app")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


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
def test_every_operation_answers_without_5xx_and_in_the_error_shape(api_schema: Any) -> None:
    # schemathesis' own pytest plugin fails on this pytest ("'Function' object has no attribute
    # '_nodeid'"), so each operation's strategy is run through hypothesis here
    problems: dict[str, str] = {}
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
            check_answer(case, case.call(timeout=60))

        try:
            run()
        except AssertionError as exc:
            problems[operation.label] = str(exc).splitlines()[0] + " | " + str(exc).splitlines()[-1]
    assert problems == {}
