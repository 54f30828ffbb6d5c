"""Metrics at GET /metrics: HTTP requests by route and status, and the delivery totals, after a real send."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.stacks import Stack


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus exposition text, or None."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


async def test_metrics_count_requests_and_deliveries(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("metrics")
    await stack.add_users({"fiscalCode": uid, "mail": f"{uid}@example.org", "groups": []})
    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "messageTitle": "Hi", "messageContent": "Hello"}
    )
    await stack.wait_settled(result["dispatchId"])
    assert (await stack.client.get("/dispatches/no-such-dispatch")).status_code == 404

    response = await stack.client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    # Litestar's Prometheus middleware names the labels (path holds the route template: group_path)
    http = {"app_name": "tidings"}
    sent = _sample(
        text, "tidings_http_requests_total", **http, method="POST", path="/send", status_code="200"
    )
    assert sent is not None and sent >= 1
    missing = _sample(
        text,
        "tidings_http_requests_total",
        **http,
        method="GET",
        path="/dispatches/{dispatch_id}",
        status_code="404",
    )
    assert missing is not None and missing >= 1
    delivered = _sample(text, "tidings_deliveries", channel="email", status="sent")
    assert delivered is not None and delivered >= 1
    assert (_sample(text, "tidings_attempts", outcome="sent") or 0) >= 1
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
