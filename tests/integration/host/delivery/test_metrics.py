"""Metrics at GET /metrics: HTTP requests by route and status and the delivery totals, counted exactly
around a test's own send (the difference of each counter before and after it)."""

from __future__ import annotations

from collections.abc import Callable

from litestar.testing import AsyncTestClient

from host.api.app import create_app
from tests.support.stacks import Stack


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus exposition text, or None."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


async def fresh_scrape(stack: Stack) -> str:
    """GET /metrics from a new app on the stack's actors: its database totals are aggregated now (an app
    keeps them for 15 s), the process-wide counters are the same in every app."""
    async with AsyncTestClient(create_app(stack.actors)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


async def test_metrics_count_this_dispatch_exactly(stack: Stack, unique: Callable[[str], str]) -> None:
    """One /send to one user, one unknown dispatch read: each counter moves by exactly that much."""
    uid = unique("metrics")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []})
    # Litestar's Prometheus middleware names the labels (path holds the route template: group_path)
    http = {"app_name": "tidings"}
    samples: dict[str, tuple[str, dict[str, str]]] = {
        "POST /send 200": (
            "tidings_http_requests_total",
            {**http, "method": "POST", "path": "/send", "status_code": "200"},
        ),
        "GET dispatch 404": (
            "tidings_http_requests_total",
            {**http, "method": "GET", "path": "/dispatches/{dispatch_id}", "status_code": "404"},
        ),
        "deliveries sent": ("tidings_deliveries", {"channel": "email", "status": "sent"}),
        "attempts sent": ("tidings_attempts", {"outcome": "sent"}),
        "outcomes sent": ("tidings_delivery_outcomes_total", {"channel": "email", "outcome": "sent"}),
        "provider calls": ("tidings_provider_send_seconds_count", {"channel": "email"}),
    }

    def read(text: str) -> dict[str, float]:
        return {what: _sample(text, name, **labels) or 0.0 for what, (name, labels) in samples.items()}

    before = read(await fresh_scrape(stack))
    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "Hi", "messageContent": "Hello"}
    )
    await stack.wait_settled(result["dispatchId"])
    assert (await stack.client.get("/dispatches/no-such-dispatch")).status_code == 404
    text = await fresh_scrape(stack)
    after = read(text)

    assert {what: after[what] - before[what] for what in samples} == dict.fromkeys(samples, 1.0)
    assert "# TYPE tidings_provider_send_seconds histogram" in text


async def test_metrics_count_an_answer_a_middleware_raised_with_its_status(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("metrics-conflict")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []})
    body = {"channels": ["email"], "recipients": [uid], "messageTitle": "Hi", "messageContent": "Hello"}
    headers = {"Idempotency-Key": unique("key")}
    labels = {"app_name": "tidings", "method": "POST", "path": "/send", "status_code": "409"}

    async def conflicts() -> float:
        text = (await stack.client.get("/metrics")).text
        return _sample(text, "tidings_http_requests_total", **labels) or 0

    before = await conflicts()
    assert (await stack.client.post("/send", json=body, headers=headers)).status_code == 200
    other = await stack.client.post("/send", json={**body, "messageContent": "Other"}, headers=headers)
    assert other.status_code == 409  # raised by the idempotency middleware, answered outside the handler
    assert await conflicts() == before + 1


async def test_a_delivery_without_channel_or_status_is_counted_as_unknown(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    """A document in deliveries that lacks the fields (written by hand, by another tool) is a total of its
    own, labelled unknown: the scrape does not fail on it."""

    def unknown(text: str) -> float:
        return _sample(text, "tidings_deliveries", channel="unknown", status="unknown") or 0.0

    before = unknown(await fresh_scrape(stack))
    await stack.db["deliveries"].insert_one({"_id": unique("bare-delivery"), "dispatch_id": unique("d")})
    assert unknown(await fresh_scrape(stack)) == before + 1
