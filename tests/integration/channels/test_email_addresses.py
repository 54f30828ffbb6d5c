"""Cc and Bcc end to end: a forged header in a display name reaches nobody, and the lists are capped."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.stacks import Stack

FORGED = '"X\r\nBcc: evil-{uid}@attacker.test" <cc2-{uid}@example.com>'


async def test_a_line_break_in_a_display_name_delivers_to_nobody(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    uid = unique("mia")
    address = f"{uid}@example.org"
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Hello",
            "messageContent": "Hello",
            "emailCarbonCopies": [FORGED.format(uid=uid), f"ok-{uid}@example.com"],
            "emailBlindCarbonCopies": [
                f"Two <a-{uid}@example.com>, b-{uid}@example.com",
                f"c-{uid}@x.com <d-{uid}@x.com>",
            ],
        }
    )
    assert (await stack.wait_settled(result["dispatchId"]))["counts"] == {"email": {"sent": 1}}
    for nobody in (f"evil-{uid}@attacker.test", f"cc2-{uid}@example.com", f"a-{uid}@example.com"):
        assert stack.mails_to(nobody) == [], nobody
    for nobody in (f"b-{uid}@example.com", f"c-{uid}@x.com", f"d-{uid}@x.com"):
        assert stack.mails_to(nobody) == [], nobody
    [mail] = stack.mails_to(address)
    assert mail.message["Cc"] == f"ok-{uid}@example.com"  # the valid copy, the header unmangled
    assert b"attacker" not in mail.data and b"Bcc" not in mail.data
    [copy] = stack.mails_to(f"ok-{uid}@example.com")
    assert copy.rcpt_tos == [f"ok-{uid}@example.com"]


async def test_more_than_fifty_copies_are_refused_naming_the_field(stack: Stack) -> None:
    body = {"channels": ["email"], "recipients": ["anyone"], "messageTitle": "t", "messageContent": "c"}
    many = [f"copy{n}@example.com" for n in range(51)]
    for field in ("emailCarbonCopies", "emailBlindCarbonCopies"):
        response = await stack.client.post("/send", json={**body, field: many})
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith(f"{field}: at most 50 addresses"), response.text
        assert (await stack.client.post("/send", json={**body, field: many[:50]})).status_code == 200
