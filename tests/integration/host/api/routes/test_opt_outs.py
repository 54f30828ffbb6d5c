"""The opt-out API: recorded, listed and removed per user and channel, and honoured by the next send."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.opt_outs import hello, mail_user, opt_outs_of
from tests.support.stacks import Stack


async def test_api_records_lists_and_removes_opt_outs(stack: Stack, unique: Callable[[str], str]) -> None:
    uid, _ = await mail_user(stack, unique)
    put = await stack.client.put(f"/users/{uid}/opt-outs/sms", json={"reason": "asked by phone"})
    assert put.status_code == 200, put.text
    assert put.json()["userId"] == uid and put.json()["source"] == "api"
    [listed] = await opt_outs_of(stack, uid)
    assert (listed["channel"], listed["reason"]) == ("sms", "asked by phone")

    result = await stack.send(hello(uid, ("email", "sms")))
    assert [(f["channel"], f["error"]) for f in result["failures"]] == [("sms", "the user opted out of sms")]
    view = await stack.wait_settled(result["dispatchId"])
    assert view["counts"] == {"email": {"sent": 1}, "sms": {"skipped": 1}}

    assert (await stack.client.delete(f"/users/{uid}/opt-outs/sms")).status_code == 204
    assert await opt_outs_of(stack, uid) == []
    assert (await stack.client.delete(f"/users/{uid}/opt-outs/sms")).status_code == 404
    unknown_channel = await stack.client.put(f"/users/{uid}/opt-outs/fax")
    assert unknown_channel.status_code == 400 and "fax" in unknown_channel.json()["message"]
    assert (await stack.client.put(f"/users/{unique('nobody')}/opt-outs/email")).status_code == 404
