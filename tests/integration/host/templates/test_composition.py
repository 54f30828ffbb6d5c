"""What each recipient of an e-mail with Cc and Bcc copies receives, over SMTP: only the user's own link."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Stack


async def test_copies_get_no_personal_unsubscribe_link(stack: Stack, unique: Callable[[str], str]) -> None:
    uid = unique("primary")
    address, cc, bcc = (f"{unique(name)}@example.org" for name in ("primary", "cc", "bcc"))
    await stack.add_users({"fiscalCode": uid, "mail": address, "groups": []})
    result = await stack.send(
        {
            "channels": ["email"],
            "recipients": [uid],
            "messageTitle": "Minutes",
            "messageContent": "The minutes of today",
            "emailCarbonCopies": [f"Carla <{cc}>"],
            "emailBlindCarbonCopies": [bcc],
        }
    )
    assert (await stack.wait_settled(result["dispatchId"]))["counts"] == {"email": {"sent": 1}}
    [own] = stack.mails_to(address)
    assert own.rcpt_tos == [address]  # the user's copy travels alone, with their own link
    assert own.message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/unsubscribe/")
    assert own.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = own.message["List-Unsubscribe"].rsplit("/", 1)[1].rstrip(">")
    for copy in (cc, bcc):
        [mail] = stack.mails_to(copy)
        assert mail.message["List-Unsubscribe"] is None and mail.message["List-Unsubscribe-Post"] is None
        assert token.encode() not in mail.data
        assert mail.message["To"] == address and cc in mail.message["Cc"]  # the same message otherwise
        assert mail.message["Message-ID"] == own.message["Message-ID"]
        assert mail.message.get_content().strip() == "The minutes of today"
    assert bcc.encode() not in stack.mails_to(cc)[0].data
