"""A channel added by entry point only (tests/plugins/tidings-webhook) is listed, accepted and delivered.

Install it with ``uv pip install --python .venv/bin/python -e tests/plugins/tidings-webhook``
(scripts/test does); nothing in host/ or channels/ knows about it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import entry_points

import pytest

from host.plugins.registry import ENTRY_POINT_GROUP, discover_channel_types
from tests.fakes.webhook import WebhookReceiver
from tests.support.configs import WEBHOOK_INSTALLED
from tests.support.paths import ROOT
from tests.support.stacks import Stack

INSTALL = "uv pip install --python .venv/bin/python -e tests/plugins/tidings-webhook"


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not WEBHOOK_INSTALLED:
        pytest.fail(f"the tidings-webhook test plugin is not installed: run `{INSTALL}`")


def test_listed_by_the_registry_from_its_own_distribution() -> None:
    types = discover_channel_types()
    assert types["webhook"].__module__ == "tidings_webhook"
    [point] = [p for p in entry_points(group=ENTRY_POINT_GROUP) if p.name == "webhook"]
    assert point.dist is not None and point.dist.name == "tidings-webhook"
    assert {"email", "sms", "voice", "push", "webhook"} <= set(types)


def test_no_host_or_builtin_file_names_it() -> None:
    # the plugin's distribution, module or channel name; the host's own webhook events (host.events.webhooks)
    # are another feature and may say "webhook"
    names_it = re.compile(r"""tidings[_-]webhook|["']webhook["']|\bWEBHOOK_URL""")
    for package in ("host", "channels"):
        for path in (ROOT / package).rglob("*.py"):
            assert not names_it.search(path.read_text()), path


async def test_accepted_in_active_channels_and_delivered(
    stack: Stack, unique: Callable[[str], str], webhook_receiver: WebhookReceiver
) -> None:
    assert "webhook" in stack.settings.config.active_channels
    uid, nobody = unique("hooked"), unique("unhooked")
    handle = f"@{uid}"
    await stack.add_users(
        {"fiscalCode": uid, "name": "Ada", "webhookHandle": handle, "groups": []},
        {"fiscalCode": nobody, "groups": []},
    )
    result = await stack.send(
        {
            "channels": ["webhook"],
            "recipients": [uid, nobody],
            "messageTitle": "Hi {{user.name}}",
            "messageContent": "Your code is {{data.code}}",
            "data": {"code": 42},
        }
    )
    [failure] = result["failures"]
    assert (failure["userId"], failure["channel"]) == (nobody, "webhook")
    assert "no webhookHandle" in failure["error"]
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"webhook": {"sent": 1, "skipped": 1}}
    [post] = [p for p in webhook_receiver.accepted() if p.body["to"] == handle]
    assert post.body == {"to": handle, "title": "Hi Ada", "text": "Your code is 42", "data": {}}
    [delivery] = [d for d in await stack.deliveries(result["dispatchId"]) if d["status"] == "sent"]
    assert (delivery["providerId"], delivery["provider"]) == (post.id, "webhook")


async def test_its_transient_errors_are_retried_like_any_channel(
    stack: Stack, unique: Callable[[str], str], webhook_receiver: WebhookReceiver
) -> None:
    uid = unique("retried")
    await stack.add_users({"fiscalCode": uid, "webhookHandle": uid, "groups": []})
    webhook_receiver.script([503])
    result = await stack.send(
        {"channels": ["webhook"], "recipients": [uid], "messageTitle": "T", "messageContent": "C"}
    )
    await stack.wait_settled(result["dispatchId"])
    [delivery] = await stack.deliveries(result["dispatchId"])
    assert (delivery["status"], delivery["attempts"]) == ("sent", 2)
