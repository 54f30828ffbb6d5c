"""A channel added by entry point only (tests/plugins/tidings-webhook) is listed, accepted and delivered.

Install it with ``uv pip install --python .venv/bin/python -e tests/plugins/tidings-webhook``
(scripts/test does); nothing in host/ or channels/ knows about it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.webhook import WebhookReceiver
from tests.support.cli_runs import worker_with_config
from tests.support.configs import WEBHOOK_INSTALLED
from tests.support.stacks import Stack

INSTALL = "uv pip install --python .venv/bin/python -e tests/plugins/tidings-webhook"


@pytest.fixture
def _installed() -> None:
    """Fails the test when the tidings-webhook plugin is not installed (instead of skipping it)."""
    if not WEBHOOK_INSTALLED:
        pytest.fail(f"the tidings-webhook test plugin is not installed: run `{INSTALL}`")


@pytest.mark.usefixtures("_installed")
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


@pytest.mark.usefixtures("_installed")
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


def test_the_service_refuses_to_start_and_names_the_key(tmp_path: Path) -> None:
    done = worker_with_config(tmp_path, {"activeChannels": ["email"], "sender": {}})
    assert done.returncode != 0
    assert "sender.email" in done.stderr
