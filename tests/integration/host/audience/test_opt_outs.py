"""Opt-outs and transactional mail: a transactional template ignores opt-outs and has no unsubscribe link."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.opt_outs import mail_user
from tests.support.stacks import Stack


async def test_transactional_mail_has_no_unsubscribe_header_and_ignores_opt_outs(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid, address = await mail_user(stack, unique)
    created = await stack.client.post(
        "/templates",
        json={
            "name": unique("receipt"),
            "category": "transactional",
            "emailTitle": "Your receipt",
            "emailMessage": "Thanks {{ user.fiscalCode }}",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["category"] == "transactional"
    assert (await stack.client.put(f"/users/{uid}/opt-outs/email")).status_code == 200

    result = await stack.send(
        {"channels": ["email"], "recipients": [uid], "templateId": created.json()["id"]}
    )
    assert result["failures"] == []
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}}
    [mail] = stack.mails_to(address)
    assert mail.message["Subject"] == "Your receipt"
    assert mail.message["List-Unsubscribe"] is None and mail.message["List-Unsubscribe-Post"] is None
