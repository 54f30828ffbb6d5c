"""Failures for clusters, as Mia lists them: audiences up to 1,000 users are expanded in the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.stacks import Stack


def no_mail(uid: str, group: str) -> dict[str, Any]:
    return {"fiscalCode": uid, "groups": [group]}  # no e-mail address: skipped, no message to wait for


async def test_a_small_clusters_failures_are_all_in_the_answer(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("small")
    reachable, listed_too = unique("reachable"), unique("listed-too")
    await stack.add_users(
        {"fiscalCode": reachable, "mail": f"{reachable}@example.org", "groups": [group]},
        no_mail(listed_too, group),
        *(no_mail(f"{group}-{i}", group) for i in range(3)),
    )
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [listed_too, unique("nobody")],
            "clusters": [group],
            "messageTitle": "t",
            "messageContent": "c",
        }
    )
    assert "expansion" not in result  # expanded here, as Mia does
    failed = sorted(f["userId"] for f in result["failures"])
    # a user listed and in the cluster fails once; the unknown listed one fails too
    assert failed == sorted([listed_too, unique("nobody"), *(f"{group}-{i}" for i in range(3))])
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1, "skipped": 5}}
    assert len(stack.mails_to(f"{reachable}@example.org")) == 1


async def test_an_audience_of_exactly_1000_is_still_expanded_in_the_request(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("thousand")
    await stack.add_users(*(no_mail(f"{group}-{i:04d}", group) for i in range(999)))
    listed = unique("listed")
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [listed],
            "clusters": [group],
            "messageTitle": "t",
            "messageContent": "c",
        }
    )
    assert "expansion" not in result
    assert len(result["failures"]) == 1000
    assert {f["error"] for f in result["failures"] if f["userId"] != listed} == {
        "user has no emailAddress (mail)"
    }


async def test_a_larger_cluster_answers_at_once_and_its_failures_are_the_skipped_deliveries(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    group = unique("large")
    members = [f"{group}-{i:04d}" for i in range(1001)]
    await stack.add_users(*(no_mail(uid, group) for uid in members))
    result = await stack.send(
        {"channels": ["email"], "clusters": [group], "messageTitle": "t", "messageContent": "c"}
    )
    assert result["expansion"] == "background"
    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"skipped": 1001}}
    found: list[str] = []
    url = f"/dispatches/{result['dispatchId']}/deliveries?status=skipped&limit=1000"
    while url:
        page = (await stack.client.get(url)).json()
        found.extend(d["userId"] for d in page["items"])
        after = page.get("nextAfter")
        url = (
            f"/dispatches/{result['dispatchId']}/deliveries?status=skipped&limit=1000&after={after}"
            if after
            else ""
        )
    assert sorted(found) == members
